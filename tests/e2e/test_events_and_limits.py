"""Dry run, rate limits, NOTIFY events and Prometheus metrics on a live server."""

import json
import re
import subprocess

from conftest import (
    HELD_CLOCK,
    RELOADED,
    RESIZED,
    advance_clock,
    cluster_with_extension,
    wait_for,
)

HISTORY = "SELECT action, old_size_mb, new_size_mb, metadata FROM walrus.history ORDER BY id"


def test_dry_run_records_and_writes_nothing(make_cluster):
    cluster = cluster_with_extension(make_cluster, **{"walrus.dry_run": "on"}, **HELD_CLOCK)
    assert cluster.one("SELECT walrus.status()")["dry_run"] is True
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    dry = re.search(
        r"pg_walrus \[DRY-RUN\]: would change max_wal_size from 32 MB to (\d+) MB \(", cluster.log()[start:]
    )
    assert dry, cluster.log()[start:]
    rows = cluster.sql(HISTORY)
    assert len(rows) == 1, rows
    action, old, new, metadata = rows[0]
    assert (action, old, new) == ("dry_run", 32, int(dry.group(1)))
    assert metadata["dry_run"] is True and metadata["would_apply"] == "increase"
    assert "max_wal_size" not in cluster.auto_conf()
    assert cluster.setting("max_wal_size") == "32MB"
    assert not re.search(RESIZED, cluster.log()[start:])

    # analyze(apply := true) honours dry run too. The clock is held: the
    # burst is still analyze()'s evidence.
    cluster.generate_wal(160)
    result = cluster.one("SELECT walrus.analyze(apply := true)")
    assert result["applied"] is False and "dry_run" in result["reason"]
    assert cluster.sql(HISTORY)[-1][0] == "dry_run"
    assert "max_wal_size" not in cluster.auto_conf()


def test_a_grow_that_can_wait_inside_the_cooldown_is_skipped(make_cluster):
    # Tier 1: the worker's clock is held, so each burst falls whole in the
    # interval advance_clock() ends, and the cooldown's arithmetic is exact.
    # A grow that answers a storm (walrus.threshold forced checkpoints)
    # passes the cooldown (test_storm_answers.py); this one can wait: adaptive
    # grows on the WAL's pace alone, with a threshold no burst here reaches.
    cooldown = 600
    cluster = cluster_with_extension(
        make_cluster,
        **{"walrus.cooldown_sec": str(cooldown), "walrus.algorithm": "adaptive", "walrus.threshold": "1000"},
        **HELD_CLOCK,
    )
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(RESIZED, cluster.log()[start:])
    # The DBA puts the size back; the next loaded interval wants to grow
    # again, one interval into the cooldown.
    before_reload = cluster.log_offset()
    with cluster.connect() as conn:
        conn.execute("ALTER SYSTEM SET max_wal_size = '32MB'")
        conn.execute("SELECT pg_reload_conf()")
    wait_for(lambda: cluster.setting("max_wal_size") == "32MB", 10, "the DBA's size")
    cluster.wait_for_log(RELOADED, 30, after=before_reload)
    second = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    blocked = re.search(
        r"pg_walrus: adjustment blocked - cooldown active \((\d+) seconds remaining\)", cluster.log()[second:]
    )
    assert blocked and int(blocked.group(1)) == cooldown - 30, "the change was exactly one interval ago"
    rows = wait_for(lambda: len(cluster.sql(HISTORY)) >= 2 and cluster.sql(HISTORY), 10, "the skipped row")
    assert [r[0] for r in rows] == ["increase", "skipped"]
    assert rows[1][3]["blocked_by"] == "cooldown" and rows[1][3]["would_apply"] == "increase"
    assert rows[1][3]["remaining_sec"] == cooldown - 30
    assert not re.search(RESIZED, cluster.log()[second:])
    assert cluster.setting("max_wal_size") == "32MB"
    status = cluster.one("SELECT walrus.status()")
    assert status["changes_this_hour"] == 1 and status["hourly_limit_reached"] is False
    assert status["cooldown_remaining_sec"] == cooldown - 30
    # The cooldown ends exactly when its seconds have passed.
    advance_clock(cluster, cooldown - 30 - 1)
    assert cluster.one("SELECT walrus.status()")["cooldown_remaining_sec"] == 1
    advance_clock(cluster, 1)
    assert cluster.one("SELECT walrus.status()")["cooldown_active"] is False


def test_zero_changes_per_hour_blocks_every_automatic_change(make_cluster):
    cluster = cluster_with_extension(make_cluster, **{"walrus.max_changes_per_hour": "0"}, **HELD_CLOCK)
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(r"pg_walrus: adjustment blocked - hourly limit reached \(0 of 0\)", cluster.log()[start:])
    rows = wait_for(lambda: cluster.sql(HISTORY), 10, "the skipped row")
    assert rows[0][0] == "skipped" and rows[0][3]["blocked_by"] == "hourly_limit"
    assert "max_wal_size" not in cluster.auto_conf()
    assert cluster.one("SELECT walrus.status()")["hourly_limit_reached"] is True
    # An explicit superuser action is not held back. No cycle comes in
    # between (the clock is held): the burst is still analyze()'s evidence.
    cluster.generate_wal(160)
    assert cluster.one("SELECT walrus.analyze(apply := true)")["applied"] is True


def test_listen_client_receives_the_event(make_cluster):
    cluster = cluster_with_extension(make_cluster, **HELD_CLOCK)
    listener = cluster.connect()
    listener.execute("LISTEN walrus_events")
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(RESIZED, cluster.log()[start:]), cluster.log()[start:]

    # The worker's transaction has committed: the notification is on its way.
    events = [json.loads(n.payload) for n in listener.notifies(timeout=10, stop_after=1)]
    listener.close()
    assert len(events) == 1, events
    event = events[0]
    rows = cluster.sql(HISTORY)
    assert len(rows) == 1, rows
    action, old, new, _ = rows[0]
    assert event["event"] == "adjustment"
    assert (event["action"], event["old_size_mb"], event["new_size_mb"]) == (action, old, new)
    assert event["strategy"] == "multiplicative" and event["dry_run"] is False
    assert event["forced_checkpoints"] >= 2 and "forced checkpoints" in event["reason"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", event["timestamp"])


def test_promtool_accepts_the_exposition(make_cluster):
    cluster = cluster_with_extension(make_cluster)
    text = cluster.one("SELECT walrus.metrics_prometheus()")
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert lint.returncode == 0 and lint.stdout.strip() == "" and lint.stderr.strip() == "", lint
    rows = {name: value for name, value in cluster.sql("SELECT name, value FROM walrus.metrics()")}
    for name in [
        "walrus_max_wal_size_bytes",
        "walrus_max_allowed_bytes",
        "walrus_increases_total",
        "walrus_decreases_total",
        "walrus_analysis_cycles_total",
        "walrus_forced_checkpoints",
        "walrus_enabled",
        "walrus_dry_run",
        "walrus_worker_running",
        "walrus_skipped_total",
        "walrus_failed_total",
        "walrus_forced_checkpoints_total",
        "walrus_last_adjustment_timestamp_seconds",
        "walrus_cooldown_remaining_seconds",
    ]:
        assert name in rows, name
        assert re.search(rf"^{name} ", text, re.MULTILINE), name
    assert rows["walrus_max_wal_size_bytes"] == 32 * 1024 * 1024
    assert rows["walrus_worker_running"] == 1
