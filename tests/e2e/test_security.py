"""Privileges, search_path attacks and the GUC catalogue: an unprivileged
role cannot steer pg_walrus, and no setting accepts a bad value."""

import re

import psycopg
import pytest

from conftest import HELD_CLOCK, RESIZED, advance_clock, cluster_with_extension, restart_worker

# A call for every function in schema walrus, by signature.
CALLS = {
    "analyze(boolean)": [
        "SELECT walrus.analyze()",
        "SELECT walrus.analyze(false)",
        "SELECT walrus.analyze(apply := true)",
    ],
    "cleanup_history()": ["SELECT walrus.cleanup_history()"],
    "history()": ["SELECT * FROM walrus.history()"],
    "metrics()": ["SELECT * FROM walrus.metrics()"],
    "metrics_prometheus()": ["SELECT walrus.metrics_prometheus()"],
    "recommendation()": ["SELECT walrus.recommendation()"],
    "recommendation(text)": ["SELECT walrus.recommendation('adaptive')"],
    "recommendations()": ["SELECT * FROM walrus.recommendations()"],
    "reset()": ["SELECT walrus.reset()"],
    "shmem_status()": ["SELECT walrus.shmem_status()"],
    "status()": ["SELECT walrus.status()"],
    "top_wal_queries(integer)": ["SELECT * FROM walrus.top_wal_queries()"],
}
MUST_REFUSE = {"SELECT walrus.analyze(apply := true)", "SELECT walrus.reset()", "SELECT walrus.cleanup_history()"}
# Every table in schema walrus: PUBLIC reads it, only superusers (and the
# worker) write it. walrus.primary_size steers every standby's max_wal_size.
TABLES = {"walrus.history", "walrus.primary_size"}
TABLE_WRITES = [
    "INSERT INTO {table} DEFAULT VALUES",
    "UPDATE {table} SET {column} = {column}",
    "DELETE FROM {table}",
    "TRUNCATE {table}",
]
# Every sequence in schema walrus: only the tables' writers advance it.
SEQUENCES = {"walrus.history_id_seq"}
SEQUENCE_CALLS = ["SELECT nextval('{sequence}')", "SELECT setval('{sequence}', 1)"]
# Documented errors that are not about privileges.
DOCUMENTED = {"SELECT * FROM walrus.top_wal_queries()": psycopg.errors.UndefinedObject}


def test_every_function_works_or_refuses_with_42501_for_an_unprivileged_role(make_cluster):
    cluster = cluster_with_extension(make_cluster)
    signatures = {
        r[0]
        for r in cluster.sql(
            "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' FROM pg_proc p "
            "WHERE p.pronamespace = 'walrus'::regnamespace"
        )
    }
    signatures = {re.sub(r'\((apply|strategy|"limit") ', "(", s) for s in signatures}
    assert signatures == set(CALLS), "a new function needs a row in CALLS"
    relations = cluster.sql(
        "SELECT c.oid::regclass::text, c.relkind, a.attname FROM pg_class c "
        "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1 "
        "WHERE c.relnamespace = 'walrus'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
    )
    first_columns = {name: column for name, kind, column in relations if kind != "S"}
    assert set(first_columns) == TABLES, "a new table needs its writes checked: add it to TABLES"
    assert {name for name, kind, _ in relations if kind == "S"} == SEQUENCES, "a new sequence: add it to SEQUENCES"
    cluster.sql("CREATE ROLE nobody LOGIN")
    with cluster.connect(user="nobody") as conn:
        for calls in CALLS.values():
            for call in calls:
                if call in MUST_REFUSE:
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(call)
                elif call in DOCUMENTED:
                    with pytest.raises(DOCUMENTED[call]):
                        conn.execute(call)
                else:
                    conn.execute(call).fetchall()
        for write in [
            (
                "INSERT INTO walrus.history (action, old_size_mb, new_size_mb, forced_checkpoints, "
                "checkpoint_timeout_sec) VALUES ('increase', 1, 2, 0, 30)"
            ),
            "UPDATE walrus.history SET reason = 'x'",
            "DELETE FROM walrus.history",
            "TRUNCATE walrus.history",
            "ALTER SYSTEM SET walrus.enable = off",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(write)
        for table, column in first_columns.items():
            conn.execute(f"SELECT * FROM {table}").fetchall()
            for write in TABLE_WRITES:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(write.format(table=table, column=column))
        for sequence in SEQUENCES:
            for call in SEQUENCE_CALLS:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(call.format(sequence=sequence))


def test_search_path_shadowing_cannot_redirect_functions_or_the_worker(make_cluster):
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    # An attacker who owns a schema that comes first, with look-alike objects.
    cluster.sql("CREATE ROLE mallory LOGIN")
    cluster.sql("CREATE SCHEMA evil AUTHORIZATION mallory")
    with cluster.connect(user="mallory") as conn:
        conn.execute(
            'CREATE TABLE evil.history ("timestamp" timestamptz, action text, old_size_mb int, '
            "new_size_mb int, forced_checkpoints bigint, reason text)"
        )
        conn.execute("INSERT INTO evil.history VALUES (now(), 'fake', 1, 2, 3, 'shadow')")
        conn.execute("CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$")
        conn.execute("CREATE FUNCTION evil.pg_notify(text, text) RETURNS void LANGUAGE sql AS $$ SELECT $$")
        conn.execute(
            "CREATE FUNCTION evil.to_regclass(text) RETURNS regclass LANGUAGE sql AS $$ SELECT NULL::regclass $$"
        )
        conn.execute("SET search_path = evil, public")
        assert conn.execute("SELECT count(*) FROM walrus.history()").fetchone()[0] == 0, "walrus's own table"
        assert conn.execute("SELECT walrus.status()").fetchone()[0]["worker_running"] is True
    # Even the database default search_path, which the worker inherits.
    cluster.sql("ALTER DATABASE postgres SET search_path = evil, public")
    restart_worker(cluster)
    listener = cluster.connect()
    listener.execute("LISTEN walrus_events")
    start = cluster.log_offset()
    cluster.generate_wal(160, table="public.load")
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(RESIZED, cluster.log()[start:]), cluster.log()[start:]
    rows = cluster.sql("SELECT action FROM walrus.history")
    assert [action for (action,) in rows] in (["increase"], ["capped"]), rows
    assert cluster.sql("SELECT reason FROM evil.history") == [("shadow",)], "the attacker's table untouched"
    assert len(list(listener.notifies(timeout=30, stop_after=1))) == 1, "the real pg_notify ran"
    listener.close()


def bad_values(vartype, min_val, max_val, enumvals):
    if vartype == "bool":
        return ["maybe", "2"]
    if vartype == "enum":
        return ["no_such_value", ""]
    if vartype == "integer":
        return [str(int(min_val) - 1), str(int(max_val) + 1), "ten", "1.5e99"]
    if vartype == "real":
        return [repr(float(min_val) - 0.001), repr(float(max_val) + 0.001), "NaN-ish", "abc"]
    return []


def test_every_setting_refuses_out_of_range_and_malformed_values(make_cluster):
    cluster = make_cluster()
    catalogue = cluster.sql(
        "SELECT name, vartype, min_val, max_val, enumvals, context FROM pg_settings "
        "WHERE name LIKE 'walrus.%' ORDER BY name"
    )
    assert len(catalogue) >= 18
    refused = set()
    with cluster.connect() as conn:
        for name, vartype, min_val, max_val, enumvals, context in catalogue:
            values = bad_values(vartype, min_val, max_val, enumvals)
            if name == "walrus.notify_channel":
                values = ["Bad-Name", "x'; DROP TABLE walrus.history; --", "a" * 64, "9x"]
            if name == "walrus.patroni_url":
                values = ["https://127.0.0.1:8008", "http://walrus:pw@127.0.0.1:8008", "http://patroni.example", "8008"]
            if name == "walrus.profiles":
                values = [
                    "{",
                    "[1]",
                    '[{"name": "x"}]',
                    '[{"name": "x", "days": ["Mon"], "start_hour": 99, "end_hour": 1}]',
                ]
            for value in values:
                # ALTER SYSTEM takes no bind parameters: quote the literal.
                literal = "'" + value.replace("'", "''") + "'"
                with pytest.raises((psycopg.errors.InvalidParameterValue, psycopg.errors.DataException)):
                    conn.execute(f"ALTER SYSTEM SET {name} = {literal}")
                refused.add(name)
            if context == "sighup":
                with pytest.raises(psycopg.errors.CantChangeRuntimeParam):
                    conn.execute(f"SET {name} = DEFAULT")
    # Every setting but the free-form ones refused bad values: the database
    # name, and the credentials file's path (checked when it is read: owner,
    # mode, format; tests/e2e/test_apply_via.py).
    assert refused == {row[0] for row in catalogue} - {"walrus.database", "walrus.patroni_auth_file"}
    assert "walrus" not in cluster.auto_conf()
