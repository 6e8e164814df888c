"""Full-page images: a storm of forced checkpoints inflates its own WAL
(every checkpoint makes the next change to each page log the whole page),
and the WAL-based strategies size from what the load would write with
time-triggered checkpoints, estimated from pg_stat_wal's image counts."""

import subprocess

from conftest import HOLD_CYCLE, cluster_with_extension, restart_worker

HISTORY = "SELECT action, old_size_mb, new_size_mb, metadata FROM walrus.history ORDER BY id"


def test_a_storm_is_judged_net_of_its_own_page_images(make_cluster):
    # The real server's counts through the whole estimate: pg_stat_wal's
    # images and records, every database's pages measured for the decision,
    # history's steady_wal. analyze(apply := true) judges the interval
    # against the held interval's checkpoint_timeout (an hour): whatever pace
    # a crowded machine allows the load, its checkpoints are many times the
    # one an hour that time would start, so the estimate applies, strongly.
    # (At a 30 s timeout a load slowed to a few checkpoints a minute is
    # rightly hardly inflated.) How the WAL-based strategies size from the
    # estimate is the strategies crate's unit and simulator tests.
    cluster = cluster_with_extension(make_cluster, **HOLD_CYCLE)
    pgbench = str(cluster.bindir / "pgbench")
    args = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
    subprocess.run([pgbench, "-i", "-s", "5", "-q", *args, "postgres"], check=True, capture_output=True)
    cluster.one("CHECKPOINT")
    # The interval starts with the load: pgbench's initial load is not part of it.
    restart_worker(cluster)
    # A fixed amount of updates to existing pages at 32 MB: a forced
    # checkpoint every segment.
    subprocess.run([pgbench, "-c", "2", "-j", "1", "-t", "10000", *args, "postgres"], check=True, capture_output=True)
    result = cluster.one("SELECT walrus.analyze(apply := true)")
    assert result["applied"] is True, result
    action, old, _, metadata = cluster.sql(HISTORY)[-1]
    assert (action, old) == ("increase", 32), metadata
    steady = metadata["steady_wal"]
    assert steady["full_page_images"] > steady["estimated_full_page_images"] > 0, steady
    assert 0 < steady["bytes_per_image"] <= 8192, steady
    assert steady["checkpoint_cycles"] == metadata["requested_checkpoints"] >= 2, (steady, metadata)
    # The pages the images can fall on were measured for this decision, after
    # pgbench's load (its accounts alone are 8 200 pages): a measurement from
    # before it (an empty cluster: about 2 800 pages) would make the estimate
    # that much smaller. An hour's images are at most every page once.
    per_hour = steady["estimated_full_page_images"] * 3600 / metadata["interval_sec"]
    assert 8_200 < per_hour <= 20_000, (per_hour, steady)
    # Most of the storm's WAL was its own images: what is left is the records.
    assert steady["estimated_wal_mb"] < 0.5 * steady["measured_wal_mb"], steady
