"""Faults the worker must survive without a crash, a wrong decision or a
flood of warnings (docs/operations.md lists each with what pg_walrus does).

Tier 1: the worker's clock is held (conftest.HELD_CLOCK) and each cycle comes
when the test ends an interval with advance_clock()."""

import re

import pytest

from conftest import (
    BASELINE,
    DETECTED,
    HELD_CLOCK,
    RESIZED,
    advance_clock,
    assert_worker_survived_and_history_complete,
    cluster_with_extension,
    max_wal_size_mb,
    wait_for,
)

QUIET_OR_LOUD = r"pg_walrus: (?:detected )?(\d+) forced checkpoints over (\d+) seconds"


def reset_stats(cluster):
    target = "checkpointer" if int(cluster.version) >= 17 else "bgwriter"
    cluster.one("SELECT pg_stat_reset_shared(%s)", (target,))


def test_stats_reset_mid_interval_rebaselines_even_when_the_delta_looks_positive(make_cluster):
    # No cycle until both bursts and the reset are done.
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    pid = cluster.worker_pid()
    cluster.generate_wal(48)  # a few checkpoints before the reset
    start = cluster.log_offset()
    reset_stats(cluster)
    # More load after the reset: the counter climbs past its old value, so
    # only the reset time tells the delta is meaningless.
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    cluster.wait_for_log(r"pg_walrus: checkpoint statistics were reset; taking a new baseline", 10, after=start)
    log = cluster.log()[start:]
    assert not re.search(DETECTED, log) and not re.search(RESIZED, log)
    assert cluster.sql("SELECT count(*) FROM walrus.history")[0][0] == 0
    assert_worker_survived_and_history_complete(cluster, pid)


def test_checkpoints_while_disabled_never_grow_after_reenabling(make_cluster):
    # The disabled cycle comes once the whole burst is behind it.
    cluster = cluster_with_extension(make_cluster, **{"walrus.enable": "off"}, **HELD_CLOCK)
    pid = cluster.worker_pid()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    cluster.wait_for_log(r"walrus.enable is off; baseline updated, no decision", 10)
    start = cluster.log_offset()
    with cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET walrus.enable = on")
        conn.execute("SELECT pg_reload_conf()")
    wait_for(lambda: cluster.one("SELECT walrus.status()")["enabled"] is True, 10, "walrus.enable on")
    assert advance_clock(cluster, 30)["cycles"] == 1
    quiet = cluster.wait_for_log(QUIET_OR_LOUD, 10, after=start)
    assert int(quiet.group(1)) < 2, "the checkpoints from the disabled period were not counted"
    assert not re.search(RESIZED, cluster.log()[start:])
    assert max_wal_size_mb(cluster) == 32
    assert_worker_survived_and_history_complete(cluster, pid)


def test_history_table_dropped_while_running(make_cluster):
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    pid = cluster.worker_pid()
    with cluster.connect() as conn:
        conn.execute("ALTER EXTENSION pg_walrus DROP TABLE walrus.history")
        conn.execute("ALTER EXTENSION pg_walrus DROP SEQUENCE walrus.history_id_seq")
        conn.execute("DROP TABLE walrus.history")
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    # A quiet interval after it: nothing to record, nothing to warn about.
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert cluster.worker_pid() == pid
    log = cluster.log()[start:]
    assert len(re.findall(RESIZED, log)) == 1
    warning = r"WARNING:  pg_walrus: walrus.history does not exist; decisions are not being recorded"
    assert len(re.findall(warning, log)) == 1, "one decision, one warning"


def test_extension_dropped_while_running_keeps_sizing(make_cluster):
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    pid = cluster.worker_pid()
    cluster.sql("DROP EXTENSION pg_walrus")
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert len(re.findall(RESIZED, cluster.log()[start:])) == 1
    assert cluster.worker_pid() == pid
    wait_for(lambda: max_wal_size_mb(cluster) > 32, 10, "the resize to take effect")
    assert "PANIC" not in cluster.log() and "terminated by signal" not in cluster.log()


@pytest.mark.realtime  # PostgreSQL's own 10 s restart of a worker that exited
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
        pytest.skip("allow_alter_system exists from PostgreSQL 17")
    cluster = cluster_with_extension(make_cluster, allow_alter_system="off", **HELD_CLOCK)
    pid = cluster.worker_pid()
    assert cluster.one("SELECT walrus.status()")["mode"] == "recommend-only"
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(
        r"pg_walrus: recommend-only \(allow_alter_system is off\): max_wal_size should change from 32 MB to \d+ MB",
        cluster.log()[start:],
    )
    rows = wait_for(lambda: cluster.sql("SELECT action, metadata FROM walrus.history ORDER BY id"), 10, "the row")
    assert rows[0][0] == "skipped" and rows[0][1]["blocked_by"] == "allow_alter_system"
    assert "failed to execute ALTER SYSTEM" not in cluster.log(), "no attempt was made"
    assert "max_wal_size" not in cluster.auto_conf()
    # Recommendations are still computed; analyze(apply) says why it did not
    # apply. No cycle comes in between (the clock is held): the burst is theirs.
    cluster.generate_wal(160)
    assert cluster.one("SELECT walrus.recommendation()")["action"] in ("increase", "capped")
    result = cluster.one("SELECT walrus.analyze(apply := true)")
    assert result["applied"] is False and "allow_alter_system" in result["reason"]

    # Turning it back on (in the file: ALTER SYSTEM itself is refused) resumes
    # sizing: the next cycle acts on the burst above.
    resumed = cluster.log_offset()
    with open(cluster.datadir / "postgresql.conf", "a") as conf:
        conf.write("allow_alter_system = on\nwalrus.cooldown_sec = 0\n")
    cluster.one("SELECT pg_reload_conf()")
    wait_for(lambda: cluster.one("SELECT walrus.status()")["mode"] == "auto", 10, "auto mode")
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(RESIZED, cluster.log()[resumed:])
    wait_for(lambda: cluster.sql("SELECT 1 FROM walrus.history WHERE action IN ('increase', 'capped')"), 10, "the row")
    assert_worker_survived_and_history_complete(cluster, pid)
