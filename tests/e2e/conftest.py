"""Shared fixtures: every test gets its own cluster, per PostgreSQL version."""

import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from pgcluster import Cluster, wait_for

VERSIONS = os.environ.get("WALRUS_PG_VERSIONS", "15").split()

# Debug lines (baseline, reloads) are part of the worker's logging contract.
# 32 MB of shared_buffers: the suite starts one cluster per test, all at
# once; forced checkpoints follow WAL volume, not buffer size.
# Early reaction off: most tests script one burst of WAL and then assert what
# the cycle at the end of the interval does (the multiplicative formula on a full
# interval's count, a reset or an analyze() between burst and cycle). With it
# on, the worker may decide mid-burst, at a moment that depends on how fast
# this machine writes. test_early_reaction.py turns it on and covers it.
# Pace-based growth off (on by default) for the same reason: a burst that
# holds storm pace for 8 s may be grown for mid-burst. test_pace_growth.py
# turns it on and covers it.
CYCLE = "30s"  # the worker's interval in these tests: checkpoint_timeout
WORKER_TEST_SETTINGS = {
    "walrus.early_reaction": "off",
    "walrus.pace_growth": "off",
    "shared_buffers": "'32MB'",
    "checkpoint_timeout": f"'{CYCLE}'",
    "log_min_messages": "debug1",
    "max_wal_size": "'32MB'",
    "min_wal_size": "'32MB'",
}


@pytest.fixture(params=VERSIONS, ids=lambda v: f"pg{v}")
def pg_version(request):
    return request.param


@pytest.fixture
def make_cluster(pg_version):
    """Factory: make_cluster(settings=..., preload=..., wal_fs_mb=...) ->
    started Cluster (wal_fs_mb: pg_wal on a tmpfs of that many MB)."""
    clusters = []

    def factory(settings=None, preload=True, start=True, wal_fs_mb=None):
        merged = dict(WORKER_TEST_SETTINGS)
        merged.update(settings or {})
        cluster = Cluster(pg_version, merged, preload=preload, wal_fs_mb=wal_fs_mb)
        clusters.append(cluster)
        return cluster.start() if start else cluster

    yield factory
    for cluster in clusters:
        cluster.close()


BASELINE = r"pg_walrus: baseline taken at \d+ requested checkpoints"
DETECTED = r"pg_walrus: detected (\d+) forced checkpoints over (\d+) seconds"
RESIZED = r"pg_walrus: resizing max_wal_size from (\d+) MB to (\d+) MB"


def max_wal_size_mb(cluster) -> int:
    return int(cluster.one("SELECT setting FROM pg_settings WHERE name = 'max_wal_size'"))


def cluster_with_extension(make_cluster, **settings):
    """A started cluster with the extension created in walrus.database and
    the worker's baseline taken."""
    cluster = make_cluster(settings)
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.wait_for_log(BASELINE, 60)
    return cluster


def restart_worker(cluster) -> re.Match:
    """Terminates the worker and returns the baseline line of the one the
    postmaster starts in its place (after its 10 s restart interval): the
    start of a fresh interval."""
    pid = cluster.worker_pid()
    offset = cluster.log_offset()
    cluster.one("SELECT pg_terminate_backend(%s)", (pid,))
    wait_for(lambda: (cluster.worker_pid() or pid) != pid, 60, "the restarted worker")
    return cluster.wait_for_log(BASELINE, 30, after=offset)


LOG_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


def log_time(cluster, match: re.Match) -> datetime:
    """When the server logged the line `match` (a match in cluster.log()) is
    on: the %m timestamp log_line_prefix starts every line with. Durations
    between two server events taken this way do not depend on how late the
    test got round to reading the log."""
    log = cluster.log()
    line_start = log.rfind("\n", 0, match.start()) + 1
    stamp = LOG_TIMESTAMP.match(log, line_start)
    assert stamp, log[line_start : line_start + 200]
    return datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S.%f")


# The worker's next cycle comes checkpoint_timeout after its last one, and it
# re-reads checkpoint_timeout at every wake. A test that must act between a
# burst and that cycle (analyze(), reset()) holds the cycle (HOLD_CYCLE at
# start, or hold_cycle() later) and lets it come with release_cycle():
# ordering by configuration, not by racing a 30 s clock. With the whole
# suite's clusters sharing two cores, a 160 MB burst alone can take longer
# than 30 s.
HELD = "1h"
HOLD_CYCLE = {"checkpoint_timeout": f"'{HELD}'"}
RELOADED = r"pg_walrus: configuration reloaded"


def hold_cycle(cluster, *, in_file: bool = False):
    """Puts the worker's next cycle an hour away."""
    reload_with(cluster, "checkpoint_timeout", HELD, in_file=in_file)


def release_cycle(cluster, *, in_file: bool = False):
    """Back to the tests' interval: the held cycle comes within CYCLE, at once
    if that much has already passed since the last one."""
    reload_with(cluster, "checkpoint_timeout", CYCLE, in_file=in_file)


def reload_with(cluster, name: str, value: str, *, in_file: bool = False) -> re.Match:
    """Sets `name` (ALTER SYSTEM, or postgresql.conf when ALTER SYSTEM is
    refused), reloads, and returns the worker's line saying it has re-read
    its configuration."""
    offset = cluster.log_offset()
    if in_file:
        with open(cluster.datadir / "postgresql.conf", "a") as conf:
            conf.write(f"{name} = '{value}'\n")
    else:
        cluster.sql(f"ALTER SYSTEM SET {name} = '{value}'")
    cluster.one("SELECT pg_reload_conf()")
    reloaded = cluster.wait_for_log(RELOADED, 30, after=offset)
    assert cluster.setting(name) == value
    return reloaded


# --- the test build's clock (tier 1; src/pg/test_clock.rs) -----------------------
# scripts/test.sh runs the tests not marked `realtime` (tier 1) on a build
# with the cargo feature test-clock. A cluster made with HELD_CLOCK has a
# worker whose clock stands still: its cycles come when advance_clock()
# moves the clock past an interval's end, and the call returns once the
# worker has done everything due by then. No wall-clock wait, no race with
# a 30 s cycle: the test asserts exact counts, lengths and cooldowns.
HELD_CLOCK = {"walrus.test_clock_hold": "on"}
ADVANCE_CLOCK = (
    "CREATE OR REPLACE FUNCTION public.walrus_test_advance_clock(float8) RETURNS jsonb "
    "AS 'pg_walrus', 'walrus_test_advance_clock_wrapper' LANGUAGE C STRICT"
)


def checkpoint_counts_settled(cluster, stable_for: float = 2.0) -> None:
    """Waits until the checkpointer has published every checkpoint it has
    started: its requested count unchanged for `stable_for` seconds. It
    counts a checkpoint when it starts and publishes the count from its
    paced write loop or at the end (pgstat_report_checkpointer), so right
    after a burst the last one may not show yet; a cycle the clock brings at
    once would leave it to the next interval. A deadline detects a hang."""
    last, since = cluster.requested_checkpoints(), time.monotonic()
    deadline = since + 120
    while time.monotonic() - since < stable_for:
        assert time.monotonic() < deadline, "the checkpoint counts never settled"
        time.sleep(0.25)
        now = cluster.requested_checkpoints()
        if now != last:
            last, since = now, time.monotonic()


def advance_clock(cluster, seconds: float) -> dict:
    """Moves the worker's clock `seconds` on, once the checkpoint counts
    have settled; returns what the test build's function says (`cycles` the
    worker completed meanwhile)."""
    checkpoint_counts_settled(cluster)
    with cluster.connect() as conn:
        conn.execute(ADVANCE_CLOCK)
        return conn.execute("SELECT public.walrus_test_advance_clock(%s)", (seconds,)).fetchone()[0]


def assert_worker_survived_and_history_complete(cluster, pid):
    """The same worker process is alive, and every resize and every failed
    ALTER SYSTEM in the log has its history row."""
    assert cluster.worker_pid() == pid, "the worker is the same process"

    def counts():
        log = cluster.log()
        applied = len(re.findall(RESIZED, log))
        failed = len(re.findall(r"pg_walrus: failed to execute ALTER SYSTEM", log))
        rows = dict(
            cluster.sql(
                "SELECT CASE WHEN action = 'failed' THEN 'failed' ELSE 'applied' END, count(*) "
                "FROM walrus.history WHERE action IN ('increase', 'decrease', 'capped', 'failed') "
                "GROUP BY 1"
            )
        )
        return (rows.get("applied", 0), rows.get("failed", 0)), (applied, failed)

    # A cycle may log a resize between our reading the log and the table
    # (its row follows the log line): the two must agree once it has
    # finished. A missing row never catches up and still fails.
    deadline = time.monotonic() + 30
    while (seen := counts())[0] != seen[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert seen[0] == seen[1], f"history rows (applied, failed) {seen[0]} != log {seen[1]}"
    assert cluster.worker_pid() == pid, "the worker is still the same process"
