"""The worker grows max_wal_size when WAL volume forces checkpoints."""

import re
import time

from conftest import BASELINE, DETECTED, RESIZED, max_wal_size_mb

# Exact sizes up to walrus.max: the WAL disk guard (specs/disk.md, tested in
# test_disk.py) is off, so that no machine's free disk caps them first.
GUARD_OFF = {"walrus.max_wal_disk_fraction": "0"}

CYCLE = DETECTED + r"[^\n]*\n(?:[^\n]*\n)*?[^\n]*" + RESIZED


def settle_on_last_resize(cluster, start, timeout=10) -> int:
    """Waits until the server's max_wal_size is the last size the worker set
    (the load may spill into a second interval and grow it again)."""
    deadline = time.monotonic() + timeout
    while True:
        last = int(list(re.finditer(RESIZED, cluster.log()[start:]))[-1].group(2))
        if max_wal_size_mb(cluster) == last:
            return last
        assert time.monotonic() < deadline, f"max_wal_size stayed {max_wal_size_mb(cluster)} MB, worker set {last} MB"
        time.sleep(0.2)


def test_wal_pressure_grows_max_wal_size_by_the_formula(make_cluster):
    cluster = make_cluster(GUARD_OFF)
    cluster.wait_for_log(r"pg_walrus worker started", 30)
    cluster.wait_for_log(BASELINE, 30)
    requested_before = cluster.requested_checkpoints()
    start = cluster.log_offset()

    # 32 MB max_wal_size triggers a checkpoint every segment or so: ~160 MB of
    # WAL forces several, well inside one 30 s interval.
    cluster.generate_wal(160)

    cycle = cluster.wait_for_log(CYCLE, 60, after=start)
    forced, seconds = int(cycle.group(1)), int(cycle.group(2))
    old, new = int(cycle.group(3)), int(cycle.group(4))
    assert forced >= 2, "the default threshold is 2"
    assert seconds >= 29, f"an interval is a full checkpoint_timeout, got {seconds}s"
    assert old == 32
    assert new == min(32 * (forced + 1), 4096), f"{forced} forced checkpoints: 32 MB x {forced + 1}"
    # The checkpoints were caused by WAL volume, not CHECKPOINT commands.
    wal_triggered = len(re.findall(r"checkpoint starting: wal", cluster.log()[start:]))
    assert wal_triggered >= 2, f"only {wal_triggered} WAL-triggered checkpoints in the log"
    assert cluster.requested_checkpoints() - requested_before >= forced

    final = settle_on_last_resize(cluster, start)
    assert final >= new
    assert re.search(rf"^max_wal_size = '{final}'$", cluster.auto_conf(), re.MULTILINE), cluster.auto_conf()


def test_capped_at_walrus_max_with_a_warning(make_cluster):
    cluster = make_cluster({"walrus.max": "'64MB'", **GUARD_OFF})
    cluster.wait_for_log(BASELINE, 30)
    start = cluster.log_offset()
    cluster.generate_wal(160)

    cluster.wait_for_log(DETECTED, 60, after=start)
    cluster.wait_for_log(
        r"WARNING:  pg_walrus: computed max_wal_size of \d+ MB exceeds walrus.max, "
        r"capping at 64 MB",
        10,
        after=start,
    )
    resized = cluster.wait_for_log(RESIZED, 10, after=start)
    assert (int(resized.group(1)), int(resized.group(2))) == (32, 64)
    assert settle_on_last_resize(cluster, start) == 64
