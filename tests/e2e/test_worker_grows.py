"""The worker grows max_wal_size when WAL volume forces checkpoints."""

import re
import time

from conftest import BASELINE, DETECTED, RESIZED


def wait_for_setting(cluster, name, expected, timeout=10):
    deadline = time.monotonic() + timeout
    while cluster.setting(name) != expected:
        assert time.monotonic() < deadline, f"{name} stayed {cluster.setting(name)!r}, wanted {expected!r}"
        time.sleep(0.2)


def test_wal_pressure_grows_max_wal_size_by_the_formula(make_cluster):
    cluster = make_cluster()
    cluster.wait_for_log(r"pg_walrus worker started", 30)
    cluster.wait_for_log(BASELINE, 30)
    requested_before = cluster.requested_checkpoints()
    start = cluster.log_offset()

    # 32 MB max_wal_size triggers a checkpoint every segment or so: ~160 MB of
    # WAL forces several, well inside one 30 s interval.
    cluster.generate_wal(160)

    detected = cluster.wait_for_log(DETECTED, 60, after=start)
    forced, seconds = int(detected.group(1)), int(detected.group(2))
    resized = cluster.wait_for_log(RESIZED, 10, after=start)
    old, new = int(resized.group(1)), int(resized.group(2))

    assert forced >= 2, "the default threshold is 2"
    assert seconds >= 29, f"an interval is a full checkpoint_timeout, got {seconds}s"
    assert old == 32
    assert new == min(32 * (forced + 1), 4096), f"{forced} forced checkpoints: 32 MB x {forced + 1}"
    # The checkpoints were caused by WAL volume, not CHECKPOINT commands.
    wal_triggered = len(re.findall(r"checkpoint starting: wal", cluster.log()[start:]))
    assert wal_triggered >= 2, f"only {wal_triggered} WAL-triggered checkpoints in the log"
    assert cluster.requested_checkpoints() - requested_before >= forced

    wait_for_setting(cluster, "max_wal_size", f"{new}MB")
    assert re.search(rf"^max_wal_size = '{new}'$", cluster.auto_conf(), re.M), cluster.auto_conf()


def test_capped_at_walrus_max_with_a_warning(make_cluster):
    cluster = make_cluster({"walrus.max": "'64MB'"})
    cluster.wait_for_log(BASELINE, 30)
    start = cluster.log_offset()
    cluster.generate_wal(160)

    cluster.wait_for_log(DETECTED, 60, after=start)
    cluster.wait_for_log(r"WARNING:  pg_walrus: computed max_wal_size of \d+ MB exceeds walrus.max, "
                         r"capping at 64 MB", 10, after=start)
    resized = cluster.wait_for_log(RESIZED, 10, after=start)
    assert (int(resized.group(1)), int(resized.group(2))) == (32, 64)
    wait_for_setting(cluster, "max_wal_size", "64MB")
