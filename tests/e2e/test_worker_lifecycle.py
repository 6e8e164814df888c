"""Worker lifecycle: failures it survives, restarts, reloads, install paths.

Tier 1 but the restart: the worker's clock is held (conftest.HELD_CLOCK) and
each cycle comes when the test ends an interval with advance_clock()."""

import os
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
    wait_for,
)

QUIET = r"pg_walrus: (\d+) forced checkpoints over (\d+) seconds"
ALTER_FAILED = r"WARNING:  pg_walrus: failed to execute ALTER SYSTEM, will retry next cycle"


def test_alter_system_failure_is_caught_and_retried(make_cluster):
    # The clock moves an interval after the burst and after the fix, so that
    # exactly one cycle fails and the next one retries.
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    pid = cluster.worker_pid()
    assert pid

    # A directory where ALTER SYSTEM writes its temporary file makes the
    # write fail with a real PostgreSQL ERROR inside the worker.
    blocker = cluster.datadir / "postgresql.auto.conf.tmp"
    os.mkdir(blocker)
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1

    log = cluster.log()[start:]
    assert re.search(DETECTED, log)
    assert len(re.findall(ALTER_FAILED + r"\n.*DETAIL:  could not open file .*postgresql.auto.conf.tmp", log)) == 1
    assert cluster.setting("max_wal_size") == "32MB"
    assert "max_wal_size" not in cluster.auto_conf()
    assert cluster.worker_pid() == pid, "the worker survived the ERROR"
    failed = wait_for(lambda: cluster.sql("SELECT action, metadata FROM walrus.history"), 10, "the failed row")
    assert failed[0][0] == "failed" and "postgresql.auto.conf.tmp" in failed[0][1]["error"]
    failed_size = cluster.one("SELECT new_size_mb FROM walrus.history WHERE action = 'failed'")

    # Next cycle, with the fault gone, the same decision is retried: the
    # burst is over, so only the retry can grow it, to the size that failed.
    os.rmdir(blocker)
    after_fix = cluster.log_offset()
    assert advance_clock(cluster, 30)["cycles"] == 1
    resized = re.search(RESIZED, cluster.log()[after_fix:])
    assert resized, cluster.log()[after_fix:]
    assert (int(resized.group(1)), int(resized.group(2))) == (32, failed_size) and failed_size > 32
    assert cluster.worker_pid() == pid, "same worker process one cycle later"
    rows = wait_for(
        lambda: (
            len(cluster.sql("SELECT 1 FROM walrus.history")) >= 2
            and cluster.sql("SELECT action FROM walrus.history ORDER BY id")
        ),
        10,
        "the retry's row",
    )
    assert rows[0][0] == "failed" and rows[1][0] in ("increase", "capped")
    assert_worker_survived_and_history_complete(cluster, pid)
    assert "server process" not in cluster.log()[start:], "no backend crashed"


@pytest.mark.realtime
def test_terminated_worker_is_restarted_and_rebaselines(make_cluster):
    cluster = make_cluster()
    cluster.wait_for_log(BASELINE, 30)
    pid = cluster.worker_pid()
    start = cluster.log_offset()
    assert cluster.one("SELECT pg_terminate_backend(%s)", (pid,)) is True

    cluster.wait_for_log(r"pg_walrus worker shutting down", 10, after=start)
    cluster.wait_for_log(rf"background worker \"pg_walrus\" \(PID {pid}\) exited with exit code 1", 10, after=start)
    # Restart interval is 10 s.
    cluster.wait_for_log(r"pg_walrus worker started", 60, after=start)
    cluster.wait_for_log(BASELINE, 30, after=start)
    new_pid = cluster.worker_pid()
    assert new_pid and new_pid != pid

    # A clean server shutdown stops it without a crash-restart cycle.
    stop_at = cluster.log_offset()
    cluster.stop("fast")
    log = cluster.log()[stop_at:]
    assert "pg_walrus worker shutting down" in log
    assert "database system is shut down" in log
    assert "terminated by signal" not in log and "PANIC" not in log


def test_reload_storm_neither_shortens_the_interval_nor_decides(make_cluster):
    cluster = make_cluster(HELD_CLOCK)
    cluster.wait_for_log(BASELINE, 30)
    start = cluster.log_offset()
    with cluster.connect() as conn:
        for _ in range(50):
            conn.execute("SELECT pg_reload_conf()")
    cluster.wait_for_log(r"pg_walrus: configuration reloaded", 10, after=start)
    # Every reload woke the worker; none ended the interval: a second short
    # of it there is still no cycle, and the one that ends it lasted 30 s.
    assert advance_clock(cluster, 29)["cycles"] == 0
    assert not re.search(QUIET, cluster.log()[start:])
    assert advance_clock(cluster, 1)["cycles"] == 1
    quiet = re.search(QUIET, cluster.log()[start:])
    assert quiet and int(quiet.group(2)) == 30, quiet
    log = cluster.log()[start:]
    assert len(re.findall(QUIET, log)) == 1, "one cycle per checkpoint_timeout, not one per SIGHUP"
    assert not re.search(RESIZED, log)


def test_disabled_worker_decides_nothing(make_cluster):
    cluster = make_cluster({"walrus.enable": "off", **HELD_CLOCK})
    cluster.wait_for_log(BASELINE, 30)
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(r"pg_walrus: walrus.enable is off; baseline updated, no decision", cluster.log()[start:])
    assert not re.search(RESIZED, cluster.log()[start:])
    assert cluster.setting("max_wal_size") == "32MB"


def test_create_extension_without_preload_warns_and_runs_no_worker(make_cluster):
    cluster = make_cluster(preload=False)
    notices = create_extension_collecting_notices(cluster)
    assert [(severity, primary) for severity, primary, _ in notices] == [
        ("WARNING", "pg_walrus is installed, but its background worker is not running")
    ]
    assert "shared_preload_libraries" in notices[0][2]
    assert cluster.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_walrus'")
    assert cluster.worker_pid() is None
    assert "FATAL" not in cluster.log()


def test_create_extension_with_preload_is_silent(make_cluster):
    cluster = make_cluster()
    assert create_extension_collecting_notices(cluster) == []
    assert (
        cluster.one("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_walrus'") == "walrus"
    )


def create_extension_collecting_notices(cluster):
    """CREATE EXTENSION, returning (severity, message, hint) of each notice."""
    notices = []
    with cluster.connect() as conn:
        # A Diagnostic is only valid inside the callback: copy its fields.
        conn.add_notice_handler(lambda d: notices.append((d.severity, d.message_primary, d.message_hint or "")))
        conn.execute("CREATE EXTENSION pg_walrus")
    return notices
