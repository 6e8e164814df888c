"""Faults the worker must survive without a crash, a wrong decision or a
flood of warnings (docs/operations.md lists each with what pg_walrus does)."""

import re

from conftest import (
    BASELINE,
    DETECTED,
    HOLD_CYCLE,
    RESIZED,
    assert_worker_survived_and_history_complete,
    cluster_with_extension,
    hold_cycle,
    max_wal_size_mb,
    release_cycle,
    wait_for,
)

QUIET_OR_LOUD = r"pg_walrus: (?:detected )?(\d+) forced checkpoints over (\d+) seconds"


def reset_stats(cluster):
    target = "checkpointer" if int(cluster.version) >= 17 else "bgwriter"
    cluster.one("SELECT pg_stat_reset_shared(%s)", (target,))


def test_stats_reset_mid_interval_rebaselines_even_when_the_delta_looks_positive(make_cluster):
    # The cycle is held until both bursts and the reset are done.
    cluster = cluster_with_extension(make_cluster, **HOLD_CYCLE)
    pid = cluster.worker_pid()
    cluster.generate_wal(48)  # a few checkpoints before the reset
    start = cluster.log_offset()
    reset_stats(cluster)
    # More load after the reset: the counter climbs past its old value, so
    # only the reset time tells the delta is meaningless.
    cluster.generate_wal(160)
    release_cycle(cluster)
    cluster.wait_for_log(r"pg_walrus: checkpoint statistics were reset; taking a new baseline", 60, after=start)
    log = cluster.log()[start:]
    assert not re.search(DETECTED, log) and not re.search(RESIZED, log)
    assert cluster.sql("SELECT count(*) FROM walrus.history")[0][0] == 0
    assert_worker_survived_and_history_complete(cluster, pid)


def test_checkpoints_while_disabled_never_grow_after_reenabling(make_cluster):
    # The disabled cycle is held until the whole burst is behind it.
    cluster = cluster_with_extension(make_cluster, **{"walrus.enable": "off"}, **HOLD_CYCLE)
    pid = cluster.worker_pid()
    cluster.generate_wal(160)
    release_cycle(cluster)
    cluster.wait_for_log(r"walrus.enable is off; baseline updated, no decision", 45)
    start = cluster.log_offset()
    with cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET walrus.enable = on")
        conn.execute("SELECT pg_reload_conf()")
    quiet = cluster.wait_for_log(QUIET_OR_LOUD, 45, after=start)
    assert int(quiet.group(1)) < 2, "the checkpoints from the disabled period were not counted"
    assert not re.search(RESIZED, cluster.log()[start:])
    assert max_wal_size_mb(cluster) == 32
    assert_worker_survived_and_history_complete(cluster, pid)


def test_history_table_dropped_while_running(make_cluster):
    cluster = cluster_with_extension(make_cluster)
    pid = cluster.worker_pid()
    with cluster.connect() as conn:
        conn.execute("ALTER EXTENSION pg_walrus DROP TABLE walrus.history")
        conn.execute("ALTER EXTENSION pg_walrus DROP SEQUENCE walrus.history_id_seq")
        conn.execute("DROP TABLE walrus.history")
    start = cluster.log_offset()
    cluster.generate_wal(160)
    cluster.wait_for_log(RESIZED, 60, after=start)
    cluster.wait_for_log(
        r"WARNING:  pg_walrus: walrus.history does not exist; decisions are not being recorded", 30, after=start
    )
    assert cluster.worker_pid() == pid
    log = cluster.log()[start:]
    cycles = len(re.findall(QUIET_OR_LOUD, log))
    assert 1 <= len(re.findall(r"walrus.history does not exist", log)) <= cycles


def test_extension_dropped_while_running_keeps_sizing(make_cluster):
    cluster = cluster_with_extension(make_cluster)
    pid = cluster.worker_pid()
    cluster.sql("DROP EXTENSION pg_walrus")
    start = cluster.log_offset()
    cluster.generate_wal(160)
    cluster.wait_for_log(RESIZED, 60, after=start)
    assert cluster.worker_pid() == pid
    wait_for(lambda: max_wal_size_mb(cluster) > 32, 10, "the resize to take effect")
    assert "PANIC" not in cluster.log() and "terminated by signal" not in cluster.log()


def test_missing_worker_database_is_retried_and_harmless(make_cluster):
    cluster = make_cluster({"walrus.database": "'no_such_db'"})
    first = cluster.wait_for_log(r'FATAL:  database "no_such_db" does not exist', 30)
    # The postmaster retries after the restart interval; the server serves on.
    cluster.wait_for_log(r'FATAL:  database "no_such_db" does not exist', 60, after=first.end())
    assert cluster.one("SELECT 1") == 1
    log = cluster.log()
    assert "terminating any other active server processes" not in log, "no crash-restart cycle"
    # Creating the database lets the next attempt start the worker.
    cluster.sql("CREATE DATABASE no_such_db")
    cluster.wait_for_log(r"pg_walrus worker started", 60)
    cluster.wait_for_log(BASELINE, 30)


def test_recommend_only_when_alter_system_is_not_allowed(make_cluster, pg_version):
    if int(pg_version) < 17:
        import pytest

        pytest.skip("allow_alter_system exists from PostgreSQL 17")
    cluster = cluster_with_extension(make_cluster, allow_alter_system="off")
    pid = cluster.worker_pid()
    assert cluster.one("SELECT walrus.status()")["mode"] == "recommend-only"
    start = cluster.log_offset()
    cluster.generate_wal(160)
    cluster.wait_for_log(
        r"pg_walrus: recommend-only \(allow_alter_system is off\): max_wal_size should change "
        r"from 32 MB to \d+ MB",
        60,
        after=start,
    )
    rows = wait_for(lambda: cluster.sql("SELECT action, metadata FROM walrus.history ORDER BY id"), 10, "the row")
    assert rows[0][0] == "skipped" and rows[0][1]["blocked_by"] == "allow_alter_system"
    assert "failed to execute ALTER SYSTEM" not in cluster.log(), "no attempt was made"
    assert "max_wal_size" not in cluster.auto_conf()
    # Recommendations are still computed; analyze(apply) says why it did not
    # apply. The worker's next cycle is held so that the burst is still theirs.
    hold_cycle(cluster, in_file=True)
    cluster.generate_wal(160)
    assert cluster.one("SELECT walrus.recommendation()")["action"] in ("increase", "capped")
    result = cluster.one("SELECT walrus.analyze(apply := true)")
    assert result["applied"] is False and "allow_alter_system" in result["reason"]

    # Turning it back on (in the file: ALTER SYSTEM itself is refused) resumes
    # sizing. Releasing the held cycle may act on the burst above at once.
    resumed = cluster.log_offset()
    with open(cluster.datadir / "postgresql.conf", "a") as conf:
        conf.write("allow_alter_system = on\nwalrus.cooldown_sec = 0\n")
    release_cycle(cluster, in_file=True)  # the reload takes all three
    wait_for(lambda: cluster.one("SELECT walrus.status()")["mode"] == "auto", 10, "auto mode")
    cluster.generate_wal(160)
    cluster.wait_for_log(RESIZED, 60, after=resumed)
    wait_for(lambda: cluster.sql("SELECT 1 FROM walrus.history WHERE action IN ('increase', 'capped')"), 10, "the row")
    assert_worker_survived_and_history_complete(cluster, pid)
