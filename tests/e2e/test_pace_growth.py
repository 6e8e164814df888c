"""Pace-based growth (walrus.pace_growth): a steady load whose pace will
reach the checkpoint trigger before the next time-triggered checkpoint is
answered by a grow before any forced checkpoint; without it, the same load
takes one (the negative control); short bursts and manual checkpoints never
grow."""

import threading
import time

import pytest

from conftest import cluster_with_extension, wait_for

# Tier 2 (scripts/test.sh): the pace and the 5 s confirmation are real time.
pytestmark = pytest.mark.realtime

# 512 MB: CheckPointSegments = floor(512 / 16 / 1.9) = 16, so PostgreSQL
# requests a checkpoint 15 segments (240 MB) past the redo point's segment.
# A 5-minute timeout keeps the time-triggered checkpoint out of the way: at
# 4 MB/s the trigger is a minute away, the confirmation 8 s.
SETTINGS = {
    "max_wal_size": "'512MB'",
    "checkpoint_timeout": "'300s'",
    # The size is the formula's, whatever this machine's free disk.
    "walrus.max_wal_disk_fraction": "0",
}
PACE_ON = {**SETTINGS, "walrus.pace_growth": "on"}
MB_PER_SEC = 4
PACE_ROWS = (
    "SELECT action, old_size_mb, new_size_mb, forced_checkpoints, reason, metadata FROM walrus.history "
    "WHERE metadata->>'strategy' = 'pace' ORDER BY id"
)
LOAD_TABLE = "walrus_paced"


class PacedLoad:
    """About MB_PER_SEC of WAL a second from one connection, in one-second
    steps, until stopped (or for `seconds`): a load with a pace, not a burst.
    A crowded machine may write slower; the pace stays a storm's at 512 MB
    down to 0.8 MB/s."""

    def __init__(self, cluster, burst_secs: float | None = None, pause_secs: float = 0.0):
        self.cluster, self.burst_secs, self.pause_secs = cluster, burst_secs, pause_secs
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with self.cluster.connect() as conn:
            burst_began = time.monotonic()
            while not self.stop.is_set():
                step = time.monotonic()
                self.cluster.generate_wal(MB_PER_SEC, table=LOAD_TABLE, conn=conn)
                if self.burst_secs is not None and time.monotonic() - burst_began >= self.burst_secs:
                    self.stop.wait(self.pause_secs)
                    burst_began = time.monotonic()
                else:
                    self.stop.wait(max(0.0, 1.0 - (time.monotonic() - step)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)


def test_a_steady_pace_grows_before_the_first_forced_checkpoint(make_cluster):
    cluster = cluster_with_extension(make_cluster, **PACE_ON)
    forced_before = cluster.requested_checkpoints()
    with PacedLoad(cluster):
        rows = wait_for(lambda: cluster.sql(PACE_ROWS), 120, "a pace-based grow")
        forced_at_grow = cluster.requested_checkpoints()
        # The load goes on at the new size for as long again as it took the
        # trigger to be reached at the old one: still no forced checkpoint.
        time.sleep(240 / MB_PER_SEC)
        forced_after = cluster.requested_checkpoints()
    assert forced_at_grow == forced_before, "the grow came before any requested checkpoint"
    assert forced_after == forced_before, "and none came at the new size"
    assert len(rows) == 1, f"one pace decision per checkpoint cycle: {rows}"
    action, old, new, forced, reason, metadata = rows[0]
    assert (action, old, forced) == ("increase", 512, 0), rows[0]
    assert "growing before the first forced checkpoint" in reason, reason
    pace = metadata["pace_growth"]
    assert pace["held_sec"] >= 8 and pace["sec_to_trigger"] < pace["sec_to_timed_checkpoint"], pace
    # The new size holds the pace's WAL per timeout: its trigger distance
    # (floor(new / 16 / 1.9) - 1 segments) is at least that WAL.
    distance_mb = (new // 16 * 10 // 19 - 1) * 16
    assert distance_mb >= pace["wal_per_timeout_mb"] > 0, (new, pace)
    assert cluster.setting("max_wal_size") == f"{new}MB"


def test_without_pace_growth_the_same_load_forces_a_checkpoint(make_cluster):
    # The negative control: the danger is real. Early reaction is off too
    # (the suite's default), so nothing answers before the trigger.
    cluster = cluster_with_extension(make_cluster, **SETTINGS)
    forced_before = cluster.requested_checkpoints()
    with PacedLoad(cluster):
        wait_for(lambda: cluster.requested_checkpoints() > forced_before, 180, "a forced checkpoint")
    assert cluster.sql(PACE_ROWS) == []
    assert cluster.setting("max_wal_size") == "512MB"


def test_short_bursts_and_manual_checkpoints_never_grow(make_cluster):
    cluster = cluster_with_extension(make_cluster, **PACE_ON)
    # Bursts of about 2 s (storm pace while they last) with 8 s pauses, for
    # 40 s: the pace window sees each for 4 s, short of the 8 s confirmation.
    with PacedLoad(cluster, burst_secs=2, pause_secs=8):
        time.sleep(40)
    for _ in range(5):
        cluster.sql("CHECKPOINT")
        time.sleep(1)
    assert cluster.sql(PACE_ROWS) == []
    assert cluster.setting("max_wal_size") == "512MB"
