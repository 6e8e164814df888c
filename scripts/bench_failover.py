"""Benchmark: a failover under full-speed pgbench (a script, not a test).

A primary and a streaming standby, both with pg_walrus preloaded (the
standby follows the size the primary publishes). The primary takes pgbench
TPC-B (scale WALRUS_BENCH_SCALE, 20 by default; 4 clients, no rate limit) from WALRUS_BENCH_START_MB at
checkpoint_timeout WALRUS_BENCH_TIMEOUT and grows; once the standby has
followed, the primary dies under its load (-m immediate), the standby is
promoted, and the same full-speed load runs on it at once. What counts is
the promoted node's WAL-triggered checkpoints after the promotion's own
checkpoint: its first cycles make a wave of full-page images (every page's
first change after the promotion checkpoint), which a size sized at the
edge of the load's need is crossed by.

Configurations, interleaved: walrus.pace_growth on and off, everything else
the same (walrus.algorithm = WALRUS_BENCH_ALGORITHM, adaptive by default: the
strategy that sizes to the load's need, so the size is at the edge). fsync
on. Per run, printed and saved as JSON: the primary's size and forced
checkpoints, the promoted node's WAL-triggered checkpoints (seconds after the
promotion request), its decisions, its final size.

    scripts/bench_failover.sh [version] [repeats] [primary-seconds] [promoted-seconds] [json-out]
"""

import json
import os
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
PRIMARY_SECS = int(sys.argv[3]) if len(sys.argv) > 3 else 120
PROMOTED_SECS = int(sys.argv[4]) if len(sys.argv) > 4 else 90
OUT = Path(sys.argv[5]) if len(sys.argv) > 5 else None
ALGORITHM = os.environ.get("WALRUS_BENCH_ALGORITHM", "adaptive")
START_MB = int(os.environ.get("WALRUS_BENCH_START_MB", "64"))
TIMEOUT = int(os.environ.get("WALRUS_BENCH_TIMEOUT", "30"))
# pgbench's scale (WALRUS_BENCH_SCALE, 20): at 50 the images of one
# 5-minute cycle pass 1 GB's trigger (see bench_pgbench.py).
SCALE = int(os.environ.get("WALRUS_BENCH_SCALE", "20"))
CLIENTS = 4
CONFIGS = ("pace", "no-pace")

SETTINGS = {
    "checkpoint_timeout": f"'{TIMEOUT}s'",
    "max_wal_size": f"'{START_MB}MB'",
    "min_wal_size": "'32MB'",
    "fsync": "on",
    "log_checkpoints": "on",
    "walrus.algorithm": f"'{ALGORITHM}'",
    # The baseline line, and the pace rule's reasons when it grows nothing.
    "log_min_messages": "debug1",
}
FOLLOWING = r"pg_walrus: standby: following the max_wal_size the primary publishes"
PROMOTE_REQUEST = r"LOG:  received promote request"
PROMOTED = r"LOG:  pg_walrus: promoted: taking the former primary's max_wal_size"
# LogCheckpointStart's flags; the promotion's own checkpoint carries "force"
# (with "wal" or "time" merged into it when those were also due).
CHECKPOINT_STARTING = re.compile(
    r"^(\S+ \S+) \S+ \[\d+\] checkpointer: LOG:  checkpoint starting:([a-z -]*)$", re.MULTILINE
)
LOG_TIME = re.compile(r"^(\S+ \S+) ", re.MULTILINE)


def log_time(line_start: str) -> datetime:
    return datetime.strptime(line_start, "%Y-%m-%d %H:%M:%S.%f")


def size_mb(cluster: Cluster) -> int:
    return int(cluster.one("SELECT setting FROM pg_settings WHERE name = 'max_wal_size'"))


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")


def run(config: str) -> dict:
    settings = {**SETTINGS, "walrus.pace_growth": "on" if config == "pace" else "off"}
    primary = Cluster(VERSION, settings, preload=False, name="walrus-failover-primary")
    standby = None
    load = None
    try:
        primary.start()
        primary.pgbench_init(SCALE)
        primary.preload_walrus()
        standby = Cluster(VERSION, settings, preload=True, name="walrus-failover-standby", standby_of=primary)
        standby.start()
        standby.wait_for_log(FOLLOWING, 60)

        load = primary.pgbench_load(CLIENTS, PRIMARY_SECS + 600)
        time.sleep(PRIMARY_SECS)
        primary_mb = size_mb(primary)
        wait_for(lambda: size_mb(standby) == primary_mb, 40, f"the standby to follow to {primary_mb} MB")
        primary_forced = primary.requested_checkpoints()
        primary_decisions = [
            {"action": action, "old_mb": old, "new_mb": new, "strategy": strategy, "reason": reason}
            for action, old, new, strategy, reason in primary.sql(
                "SELECT action, old_size_mb, new_size_mb, metadata->>'strategy', reason FROM walrus.history ORDER BY id"
            )
        ]
        # The failover: the primary dies under its load.
        primary.stop("immediate")
        load.kill()
        load.wait()

        start = standby.log_offset()
        assert standby.one("SELECT pg_promote()") is True
        promoted_load = standby.pgbench_load(CLIENTS, PROMOTED_SECS)
        request = standby.wait_for_log(PROMOTE_REQUEST, 10, after=start)
        standby.wait_for_log(PROMOTED, 20, after=start)
        promoted_at_mb = size_mb(standby)
        promoted_load.communicate(timeout=PROMOTED_SECS + 120)
        # The log's clock dates the checkpoints against the request.
        log = standby.log()
        requested_at = log_time(LOG_TIME.match(log, log.rfind("\n", 0, request.start()) + 1).group(1))
        lines = [
            ((log_time(m.group(1)) - requested_at).total_seconds(), m.group(2).split())
            for m in CHECKPOINT_STARTING.finditer(log, request.end())
        ]
        promotion = next((k for k, (_, flags) in enumerate(lines) if "force" in flags), None)
        after = lines[promotion + 1 :] if promotion is not None else lines
        wal_checkpoints = [round(at, 1) for at, flags in after if "wal" in flags]
        decisions = [
            {"at_s": round(float(at), 1), "action": action, "old_mb": old, "new_mb": new, "strategy": strategy}
            for at, action, old, new, strategy in standby.sql(
                'SELECT extract(epoch FROM "timestamp" - %s), action, old_size_mb, new_size_mb, '
                "metadata->>'strategy' FROM walrus.history WHERE \"timestamp\" >= %s ORDER BY id",
                (requested_at, requested_at),
            )
        ]
        return {
            "config": config,
            "primary_mb": primary_mb,
            "primary_forced": primary_forced,
            "primary_decisions": primary_decisions,
            "promoted_at_mb": promoted_at_mb,
            "promotion_checkpoint": " ".join(lines[promotion][1]) if promotion is not None else None,
            "wal_checkpoints_after_s": wal_checkpoints,
            "decisions": decisions,
            "final_mb": size_mb(standby),
            # The pace rule on the promoted node: a grow, or why a pace that
            # would reach the trigger grew nothing (DEBUG1).
            "pace_lines": [
                line.split("pg_walrus: ", 1)[1]
                for line in standby.log()[request.end() :].splitlines()
                if "pg_walrus: pace-based growth" in line or "growing before the first forced checkpoint" in line
            ],
        }
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        if standby is not None:
            standby.close()
        primary.close()


def main() -> None:
    results = {config: [] for config in CONFIGS}
    for repeat in range(REPEATS):
        for config in CONFIGS:  # interleaved
            result = run(config)
            results[config].append(result)
            print(f"repeat {repeat + 1}/{REPEATS} {config}: {json.dumps(result)}", file=sys.stderr)
            if OUT:
                OUT.write_text(
                    json.dumps(
                        {
                            "version": VERSION,
                            "algorithm": ALGORITHM,
                            "scale": SCALE,
                            "start_mb": START_MB,
                            "checkpoint_timeout": TIMEOUT,
                            "results": results,
                        },
                        indent=1,
                    )
                )
    print(
        f"\nFailover under full-speed pgbench (scale {SCALE}), PostgreSQL {VERSION}, walrus.algorithm = {ALGORITHM}, "
        f"from {START_MB} MB at checkpoint_timeout {TIMEOUT} s; {REPEATS} interleaved repeats; "
        f"the primary loaded for {PRIMARY_SECS} s, the promoted node for {PROMOTED_SECS} s"
    )
    print(
        "| walrus.pace_growth | primary's size (MB) | promoted at (MB) | WAL-triggered checkpoints on the promoted "
        "node (s after the request) | its decisions | final (MB) |"
    )
    print("|---|---|---|---|---|---|")
    for config, runs in results.items():
        cells = [" / ".join(str(r[key]) for r in runs) for key in ("primary_mb", "promoted_at_mb")]
        checkpoints = " / ".join(
            f"{len(r['wal_checkpoints_after_s'])} ({', '.join(map(str, r['wal_checkpoints_after_s']))})"
            if r["wal_checkpoints_after_s"]
            else "0"
            for r in runs
        )
        decisions = " / ".join(
            ", ".join(f"{d['strategy']} {d['old_mb']}→{d['new_mb']} at {d['at_s']} s" for d in r["decisions"]) or "-"
            for r in runs
        )
        final = statistics.median(r["final_mb"] for r in runs)
        print(
            f"| {'on' if config == 'pace' else 'off'} | {cells[0]} | {cells[1]} | {checkpoints} | {decisions} | {final:.0f} |"
        )


if __name__ == "__main__":
    main()
