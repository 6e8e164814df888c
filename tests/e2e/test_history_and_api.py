"""The worker's story in walrus.history, shrink, reset and analyze on a live server.

Tier 1: the worker's clock is held (conftest.HELD_CLOCK); each cycle comes
when the test ends an interval with advance_clock(), so a burst is always
seen whole by one cycle and nothing happens between a burst and a call."""

import re
import subprocess

from conftest import (
    BASELINE,
    DETECTED,
    HELD_CLOCK,
    RESIZED,
    advance_clock,
    cluster_with_extension,
    max_wal_size_mb,
    wait_for,
)

HISTORY = "SELECT action, old_size_mb, new_size_mb, forced_checkpoints FROM walrus.history ORDER BY id"


def test_increase_then_shrink_are_recorded(make_cluster):
    # No cooldown: the shrink comes one interval after the grow. One cycle
    # sees the whole burst (the clock is held over it). The WAL disk guard is
    # off: the growth is exactly the formula's up to walrus.max, whatever
    # this machine's free disk.
    cluster = cluster_with_extension(
        make_cluster,
        **{
            "walrus.shrink_intervals": "1",
            "walrus.min_size": "'32MB'",
            "walrus.cooldown_sec": "0",
            "walrus.max_wal_disk_fraction": "0",
            **HELD_CLOCK,
        },
    )
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1

    cycle = cluster.wait_for_log(DETECTED, 10, after=start)
    forced = int(cycle.group(1))
    resized = cluster.wait_for_log(RESIZED, 10, after=start)
    grown = int(resized.group(2))
    assert grown == min(32 * (forced + 1), 4096)
    wait_for(lambda: cluster.sql(HISTORY), 10, "the increase row")
    assert cluster.sql(HISTORY)[0] == ("increase", 32, grown, forced)
    row = cluster.sql("SELECT checkpoint_timeout_sec, reason, metadata FROM walrus.history ORDER BY id LIMIT 1")[0]
    assert row[0] == 30 and f"{forced} forced checkpoints" in row[1]
    assert row[2]["applied"] is True and row[2]["strategy"] == "multiplicative"

    # One quiet interval (shrink_intervals = 1) gives some disk back.
    assert advance_clock(cluster, 30)["cycles"] == 1
    shrink = cluster.wait_for_log(
        rf"resizing max_wal_size from {grown} MB to (\d+) MB \(1 quiet intervals", 10, after=resized.end()
    )
    shrunk = int(shrink.group(1))
    wait_for(lambda: len(cluster.sql(HISTORY)) >= 2, 10, "the decrease row")
    assert cluster.sql(HISTORY)[1][:3] == ("decrease", grown, shrunk)
    wal_need = cluster.one("SELECT (metadata->>'wal_need_mb')::int FROM walrus.history WHERE action = 'decrease'")
    assert shrunk == max(-(-grown * 3 // 4), 32, wal_need), "ceil(size x 0.75), floor 32 MB, never below the WAL's need"
    wait_for(lambda: max_wal_size_mb(cluster) <= shrunk, 10, "the smaller max_wal_size")
    status = cluster.one("SELECT walrus.status()")
    assert status["total_adjustments"] == 2 and status["last_adjustment_time"].endswith("+00:00")
    shmem = cluster.one("SELECT walrus.shmem_status()")
    assert shmem["total_increases"] == 1 and shmem["total_decreases"] == 1
    assert [r[0] for r in cluster.sql("SELECT action FROM walrus.history()")][:2] == ["increase", "decrease"]


def test_reset_rebaselines_instead_of_zeroing(make_cluster):
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    before = cluster.requested_checkpoints()
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert cluster.requested_checkpoints() - before >= 2, "the load forced checkpoints"
    assert cluster.one("SELECT walrus.reset()") is True
    assert not re.search(r"forced checkpoints over", cluster.log()[start:]), "no cycle until the clock moves"

    # The next cycle must not count the checkpoints from before the reset.
    assert advance_clock(cluster, 30)["cycles"] == 1
    quiet = cluster.wait_for_log(r"pg_walrus: (\d+) forced checkpoints over (\d+) seconds", 10, after=start)
    assert int(quiet.group(1)) < 2
    assert not re.search(RESIZED, cluster.log()[start:])
    assert cluster.sql(HISTORY) == []
    assert max_wal_size_mb(cluster) == 32


def test_analyze_apply_is_not_recounted_by_the_worker(make_cluster):
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    start = cluster.log_offset()
    cluster.generate_wal(160)
    result = cluster.one("SELECT walrus.analyze(apply := true)")
    assert result["analyzed"] is True and result["applied"] is True, result
    rec = result["recommendation"]
    assert rec["action"] == "increase" and rec["current_size_mb"] == 32 and rec["recommended_size_mb"] > 32
    assert cluster.sql(HISTORY)[0][:3] == ("increase", 32, rec["recommended_size_mb"])

    # The worker's next cycle starts from analyze()'s baseline.
    assert advance_clock(cluster, 30)["cycles"] == 1
    cluster.wait_for_log(r"pg_walrus: \d+ forced checkpoints over \d+ seconds", 10, after=start)
    assert len(re.findall(RESIZED, cluster.log()[start:])) == 1, "only analyze() resized"
    assert len(cluster.sql(HISTORY)) == 1
    assert max_wal_size_mb(cluster) == rec["recommended_size_mb"]


def test_history_survives_dump_and_restore(make_cluster):
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    cluster.generate_wal(160)
    assert cluster.one("SELECT walrus.analyze(apply := true)")["applied"] is True
    restored_ids = [r[0] for r in cluster.sql("SELECT id FROM walrus.history")]

    dump = cluster.root / "walrus.dump"
    subprocess.run(
        [
            "sudo",
            "-u",
            "postgres",
            str(cluster.bindir / "pg_dump"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-Fc",
            "-f",
            str(dump),
            "postgres",
        ],
        check=True,
    )
    cluster.sql("CREATE DATABASE walrus_copy")
    subprocess.run(
        [
            "sudo",
            "-u",
            "postgres",
            str(cluster.bindir / "pg_restore"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-d",
            "walrus_copy",
            str(dump),
        ],
        check=True,
    )

    copied = cluster.sql("SELECT id, action FROM walrus.history ORDER BY id", dbname="walrus_copy")
    assert [r[0] for r in copied] == restored_ids and copied[0][1] == "increase"
    new_id = cluster.one(
        "INSERT INTO walrus.history (action, old_size_mb, new_size_mb, forced_checkpoints, checkpoint_timeout_sec)"
        " VALUES ('increase', 1, 2, 0, 30) RETURNING id",
        dbname="walrus_copy",
    )
    assert new_id not in restored_ids


def test_worker_keeps_sizing_without_the_extension_and_says_so_once_per_cycle(make_cluster):
    cluster = make_cluster(HELD_CLOCK)  # no CREATE EXTENSION in walrus.database
    cluster.wait_for_log(BASELINE, 30)
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    log = cluster.log()[start:]
    assert len(re.findall(RESIZED, log)) == 1, "it sized all the same"
    assert len(re.findall(r"pg_walrus: walrus.history does not exist; decisions are not being recorded", log)) == 1


def test_sql_api_without_preload(make_cluster):
    cluster = make_cluster(preload=False)
    cluster.sql("CREATE EXTENSION pg_walrus")
    status = cluster.one("SELECT walrus.status()")
    assert status["worker_running"] is False and status["last_check_time"] is None
    rec = cluster.one("SELECT walrus.recommendation()")
    assert rec["action"] == "none" and "no baseline" in rec["reason"]
    assert cluster.one("SELECT walrus.analyze()")["applied"] is False
    assert cluster.one("SELECT walrus.shmem_status()")["worker_pid"] is None
    assert cluster.sql("SELECT * FROM walrus.history()") == []
    assert cluster.one("SELECT walrus.reset()") is True
    assert "FATAL" not in cluster.log()
