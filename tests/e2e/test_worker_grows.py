"""The worker grows max_wal_size when WAL volume forces checkpoints.

Tier 1: the worker's clock is held (conftest.HELD_CLOCK), so the whole
burst falls in the one interval the test ends with advance_clock(), and its
length is exactly checkpoint_timeout."""

import re

from conftest import BASELINE, DETECTED, HELD_CLOCK, RESIZED, advance_clock, max_wal_size_mb, wait_for

# Exact sizes up to walrus.max: the WAL disk guard (specs/disk.md, tested in
# test_disk.py) is off, so that no machine's free disk caps them first.
GUARD_OFF = {"walrus.max_wal_disk_fraction": "0", **HELD_CLOCK}

CYCLE = DETECTED + r"[^\n]*\n(?:[^\n]*\n)*?[^\n]*" + RESIZED


def test_wal_pressure_grows_max_wal_size_by_the_formula(make_cluster):
    cluster = make_cluster(GUARD_OFF)
    cluster.wait_for_log(r"pg_walrus worker started", 30)
    cluster.wait_for_log(BASELINE, 30)
    requested_before = cluster.requested_checkpoints()
    start = cluster.log_offset()

    # 32 MB max_wal_size triggers a checkpoint every segment or so: ~160 MB of
    # WAL forces several, all inside the interval the clock then ends.
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1

    cycle = re.search(CYCLE, cluster.log()[start:])
    assert cycle, cluster.log()[start:][-3000:]
    forced, seconds = int(cycle.group(1)), int(cycle.group(2))
    old, new = int(cycle.group(3)), int(cycle.group(4))
    assert forced >= 2, "the default threshold is 2"
    assert seconds == 30, f"an interval is a full checkpoint_timeout, got {seconds}s"
    assert old == 32
    assert new == min(32 * (forced + 1), 4096), f"{forced} forced checkpoints: 32 MB x {forced + 1}"
    # The checkpoints were caused by WAL volume, not CHECKPOINT commands.
    wal_triggered = len(re.findall(r"checkpoint starting: wal", cluster.log()[start:]))
    assert wal_triggered >= 2, f"only {wal_triggered} WAL-triggered checkpoints in the log"
    assert cluster.requested_checkpoints() - requested_before >= forced

    # One cycle, one resize; the reload it asked for comes into force (the
    # postmaster reads the file when it handles the signal).
    assert len(re.findall(RESIZED, cluster.log()[start:])) == 1
    wait_for(lambda: max_wal_size_mb(cluster) == new, 30, f"max_wal_size {new} MB in force")
    assert re.search(rf"^max_wal_size = '{new}'$", cluster.auto_conf(), re.MULTILINE), cluster.auto_conf()


def test_capped_at_walrus_max_with_a_warning(make_cluster):
    cluster = make_cluster({"walrus.max": "'64MB'", **GUARD_OFF})
    cluster.wait_for_log(BASELINE, 30)
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1

    log = cluster.log()[start:]
    assert re.search(DETECTED, log)
    assert re.search(r"WARNING:  pg_walrus: computed max_wal_size of \d+ MB exceeds walrus.max, capping at 64 MB", log)
    resized = re.findall(RESIZED, log)
    assert [(int(a), int(b)) for a, b in resized] == [(32, 64)]
    wait_for(lambda: max_wal_size_mb(cluster) == 64, 30, "max_wal_size 64 MB in force")
