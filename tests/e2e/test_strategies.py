"""Strategies on a live server: switching, WAL evidence, side-by-side view."""

import re

from conftest import BASELINE, DETECTED, HELD_CLOCK, RESIZED, advance_clock, wait_for

HISTORY = "SELECT action, old_size_mb, new_size_mb, metadata FROM walrus.history ORDER BY id"


def test_switching_algorithm_takes_effect_at_the_next_cycle(make_cluster):
    cluster = make_cluster({"walrus.min_size": "'32MB'", **HELD_CLOCK})
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.wait_for_log(BASELINE, 30)
    with cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET walrus.algorithm = 'adaptive'")
        conn.execute("SELECT pg_reload_conf()")
    wait_for(lambda: cluster.one("SELECT walrus.status()")["strategy"] == "adaptive", 10, "the switch")
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(RESIZED, cluster.log()[start:]), cluster.log()[start:]
    rows = cluster.sql(HISTORY)
    assert len(rows) == 1, rows
    action, _old, new, metadata = rows[0]
    assert metadata["strategy"] == "adaptive" and action in ("increase", "capped")
    # adaptive sizes for the WAL it saw per checkpoint_timeout:
    # (1 + cct) x (W in whole segments + 2) x 1.1, W = the interval's WAL x 30
    # / its length. When forced checkpoints inflated that WAL with full-page
    # images, the WAL is the estimate without them (steady_wal), never more
    # than what was measured. The metadata rounds the length to a second and
    # the estimate to a MB, which can move W across a segment boundary: the
    # size must be the formula's for one W the rounding allows.
    wal_mb, secs = metadata["wal_bytes"] / 1048576, metadata["interval_sec"]
    steady = metadata.get("steady_wal")
    if steady is not None:
        assert abs(steady["measured_wal_mb"] - wal_mb) <= 0.5, steady
        assert steady["estimated_wal_mb"] <= steady["measured_wal_mb"], steady
        wal_mb = steady["estimated_wal_mb"]
    segments = {-(-(wal_mb + dw) * 30 / (secs + ds) // 16) for dw in (-0.5, 0, 0.5) for ds in (-0.5, 0, 0.5)}
    needs = [1.9 * (n + 2) * 16 for n in sorted(segments)]
    assert any(abs(new - need * 1.1) <= 2 for need in needs), (new, needs, metadata)
    status = cluster.one("SELECT walrus.status()")
    assert status["wal_samples"] >= 1 and status["wal_rate_bytes_per_sec"] > 0
    # Every strategy kept its state warm: all four recommend from evidence.
    rows = cluster.sql("SELECT strategy, active FROM walrus.recommendations()")
    assert rows == [("multiplicative", False), ("additive", False), ("adaptive", True), ("percentile", False)]


def test_manual_checkpoints_never_grow_even_at_threshold_one(make_cluster):
    # The clock held, so that all six fall in one interval.
    cluster = make_cluster({"walrus.threshold": "1", **HELD_CLOCK})
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.wait_for_log(BASELINE, 60)
    start = cluster.log_offset()
    before = cluster.requested_checkpoints()
    with cluster.connect() as conn:
        for _ in range(6):
            conn.execute("CHECKPOINT")
    # The checkpointer reports a checkpoint done before it publishes its stats.
    wait_for(lambda: cluster.requested_checkpoints() - before >= 6, 30, "six requested checkpoints in the stats")
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(r"pg_walrus: 6 of 6 requested checkpoints not explained by WAL volume", cluster.log()[start:])
    assert not re.search(RESIZED, cluster.log()[start:])
    assert cluster.setting("max_wal_size") == "32MB"
    assert cluster.sql(HISTORY) == []


def test_a_genuine_burst_still_counts_with_wal_evidence(make_cluster):
    # The clock held, so that one cycle sees the CHECKPOINT and the whole burst.
    cluster = make_cluster({"walrus.threshold": "1", **HELD_CLOCK})
    cluster.wait_for_log(BASELINE, 60)
    start = cluster.log_offset()
    with cluster.connect() as conn:
        conn.execute("CHECKPOINT")
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    detected = re.search(DETECTED, cluster.log()[start:])
    assert detected and int(detected.group(1)) >= 2
    assert len(re.findall(RESIZED, cluster.log()[start:])) == 1
