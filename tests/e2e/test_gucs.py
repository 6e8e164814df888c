"""walrus.* settings: ALTER SYSTEM and reloads refuse bad values, keep good ones."""

import psycopg
import pytest

REFUSED = [
    ("walrus.threshold", "0", r'0 is outside the valid range for parameter "walrus.threshold" \(1 .. 1000\)'),
    ("walrus.threshold", "1001", r'1001 is outside the valid range for parameter "walrus.threshold" \(1 .. 1000\)'),
    ("walrus.threshold", "'two'", r'invalid value for parameter "walrus.threshold": "two"'),
    # PostgreSQL 17 also prints the unit inside the range.
    ("walrus.max", "1", r'1 MB is outside the valid range for parameter "walrus.max" \(2( MB)? .. 2147483647( MB)?\)'),
    ("walrus.max", "'3000TB'", r'invalid value for parameter "walrus.max": "3000TB"'),
    ("walrus.max", "'10 parsecs'", r'invalid value for parameter "walrus.max": "10 parsecs"'),
    ("walrus.enable", "'maybe'", r'parameter "walrus.enable" requires a Boolean value'),
    # PostgreSQL 15 calls a reserved-prefix typo unrecognized, 17 calls it invalid.
    ("walrus.no_such", "1", r'(unrecognized|invalid) configuration parameter( name)? "walrus.no_such"'),
]


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


def test_alter_system_refuses_bad_values(cluster):
    with cluster.connect() as conn:
        for name, value, message in REFUSED:
            with pytest.raises(psycopg.Error, match=message):
                conn.execute(f"ALTER SYSTEM SET {name} = {value}")
    assert "walrus" not in cluster.auto_conf(), "nothing was written"


def test_session_set_is_refused_before_any_value_check(cluster):
    with cluster.connect() as conn:
        for name, value in [
            ("walrus.threshold", "5"),
            ("walrus.threshold", "0"),
            ("walrus.enable", "off"),
            ("walrus.max", "'1GB'"),
            ("walrus.database", "'x'"),
        ]:
            with pytest.raises(psycopg.errors.CantChangeRuntimeParam):
                conn.execute(f"SET {name} = {value}")


def test_units_and_reload(cluster):
    with cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET walrus.max = '2GB'")
        conn.execute("ALTER SYSTEM SET walrus.threshold = 5")
        conn.execute("SELECT pg_reload_conf()")
    import time

    deadline = time.monotonic() + 10
    while cluster.setting("walrus.threshold") != "5":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert cluster.setting("walrus.max") == "2GB"
    assert cluster.one("SELECT setting FROM pg_settings WHERE name = 'walrus.max'") == "2048"


def test_bad_value_in_config_file_is_refused_at_reload_and_old_value_kept(cluster):
    with open(cluster.datadir / "postgresql.conf", "a") as conf:
        conf.write("walrus.threshold = 5000\nwalrus.enable = sometimes\n")
    start = cluster.log_offset()
    cluster.one("SELECT pg_reload_conf()")
    cluster.wait_for_log(
        r'5000 is outside the valid range for parameter "walrus.threshold" \(1 .. 1000\)', 10, after=start
    )
    cluster.wait_for_log(r'parameter "walrus.enable" requires a Boolean value', 10, after=start)
    assert cluster.setting("walrus.threshold") == "2"
    assert cluster.setting("walrus.enable") == "on"
    errors = cluster.sql(
        "SELECT name, error FROM pg_file_settings WHERE name LIKE 'walrus.%' AND error IS NOT NULL ORDER BY name"
    )
    assert [name for name, _ in errors] == ["walrus.enable", "walrus.threshold"]
