"""Benchmark (a script, not a test): a storm that starts right after a quiet
spell, for every strategy, interleaved. Run through
scripts/bench_storm_after_change.sh.

Two run sets, as a new user meets them (PostgreSQL defaults, checkpoint_timeout
30 s, fsync on, pgbench TPC-B scale 20 with 4 clients):
  idle-first    max_wal_size 64 MB; the worker's first interval is idle, then
                pgbench starts. Before 0.3.0 adaptive and percentile grew on
                the idle interval (64 -> 102 MB), and the cooldown that change
                started held the storm's answer back for 300 s.
  shrink-first  max_wal_size 256 MB, walrus.shrink_intervals 1, walrus.min_size
                64 MB: the first quiet interval shrinks, and pgbench starts
                right after, inside the cooldown.

Per run it prints the change (if any) before the load, the forced
(WAL-triggered) checkpoints in each 30 s interval of the load, the "blocked"
and "growing anyway" log lines, and the size at the end. Counts first: they do
not wobble with the machine's speed.

    python3 scripts/bench_storm_after_change.py [version] [repeats] [load_seconds] [out.json]
"""

import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 1
LOAD_SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 120
OUT = Path(sys.argv[4]) if len(sys.argv) > 4 else None
STRATEGIES = ["multiplicative", "additive", "adaptive", "percentile"]
INTERVAL = 30
SCALE, CLIENTS = 20, 4
RESIZED = r"pg_walrus: resizing max_wal_size from (\d+) MB to (\d+) MB"
BASELINE = r"pg_walrus: baseline taken"
CYCLE = r"pg_walrus: (detected )?\d+ forced checkpoints over \d+ seconds"
RUN_SETS = {
    "idle-first": {"max_wal_size": "'64MB'"},
    "shrink-first": {"max_wal_size": "'256MB'", "walrus.shrink_intervals": "1", "walrus.min_size": "'64MB'"},
}


def requested(cluster) -> int:
    if int(VERSION) >= 17:
        return cluster.one("SELECT num_requested FROM pg_stat_checkpointer")
    return cluster.one("SELECT checkpoints_req FROM pg_stat_bgwriter")


def run(run_set: str, strategy: str) -> dict:
    settings = {
        "checkpoint_timeout": f"'{INTERVAL}s'",
        "min_wal_size": "'32MB'",
        "fsync": "on",
        "log_min_messages": "debug1",
        **RUN_SETS[run_set],
    }
    cluster = Cluster(VERSION, settings, preload=False, name=f"walrus-bench-{run_set}-{strategy}")
    try:
        cluster.start()
        cluster.pgbench_init(SCALE)
        with open(cluster.datadir / "postgresql.conf", "a") as conf:
            conf.write(f"shared_preload_libraries = 'pg_walrus'\nwalrus.algorithm = '{strategy}'\n")
        cluster.restart()
        cluster.sql("CREATE EXTENSION pg_walrus")
        baseline = cluster.wait_for_log(BASELINE, 60)
        # The quiet spell: the worker's first full interval ends without load.
        quiet_end = cluster.wait_for_log(CYCLE, 3 * INTERVAL, after=baseline.end())
        if run_set == "shrink-first":
            # Its shrink is logged right after the cycle line.
            time.sleep(1)
        before_load = re.findall(RESIZED, cluster.log()[: cluster.log_offset()])
        offset = cluster.log_offset()
        load = cluster.pgbench_load(CLIENTS, LOAD_SECONDS)
        began = time.monotonic()
        previous = requested(cluster)
        forced = []
        for k in range(1, LOAD_SECONDS // INTERVAL + 1):
            time.sleep(max(0.0, began + k * INTERVAL - time.monotonic()))
            now = requested(cluster)
            forced.append(now - previous)
            previous = now
        load.communicate(timeout=120)
        log = cluster.log()[offset:]
        return {
            "run_set": run_set,
            "strategy": strategy,
            "quiet_interval": quiet_end.group(0),
            "changes_before_load": [f"{a} -> {b} MB" for a, b in before_load],
            "forced_per_interval": forced,
            "blocked_lines": len(re.findall(r"adjustment blocked", log)),
            "passed_lines": len(re.findall(r"growing anyway", log)),
            "resizes_during_load": [f"{a} -> {b} MB" for a, b in re.findall(RESIZED, log)],
            "final_mb": int(cluster.one("SELECT setting FROM pg_settings WHERE name = 'max_wal_size'")),
        }
    finally:
        cluster.close()


def main():
    results = []
    for repeat in range(REPEATS):
        for run_set in RUN_SETS:
            for strategy in STRATEGIES:
                result = run(run_set, strategy)
                result["repeat"] = repeat + 1
                results.append(result)
                print(json.dumps(result), flush=True)
    if OUT:
        OUT.write_text(json.dumps(results, indent=1) + "\n")
    print("\n| run set | strategy | change before the load | forced checkpoints per 30 s interval | blocked | final |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        before = ", ".join(r["changes_before_load"]) or "none"
        forced = " ".join(str(n) for n in r["forced_per_interval"])
        print(f"| {r['run_set']} | {r['strategy']} | {before} | {forced} | {r['blocked_lines']} | {r['final_mb']} MB |")


if __name__ == "__main__":
    main()
