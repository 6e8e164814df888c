"""Benchmark: the noise pace-based growth must not grow for (a script, not a
test).

A busy server's noise, not a load: full-speed pgbench TPC-B (scale 20, 4
clients) in bursts of BURST_SECS every PERIOD_SECS, and a manual CHECKPOINT
every CHECKPOINT_EVERY bursts (each makes the next burst a wave of full-page
images, the fastest pace this load writes), at PostgreSQL's default
max_wal_size (1 GB) and checkpoint_timeout (5 minutes), fsync on, for
SECONDS. Configurations interleaved: walrus.pace_growth on and off, everything
else at its default. Counted per run: pg_walrus's decisions (history rows),
requested checkpoints (the manual ones included), the final max_wal_size,
and the pace rule's log lines.

    scripts/bench_pace_noise.sh [version] [repeats] [seconds] [json-out]
"""

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 300
OUT = Path(sys.argv[4]) if len(sys.argv) > 4 else None
SCALE, CLIENTS = 20, 4
# Bursts of 4 s: "a few seconds", shorter than the rule's 8 s confirmation
# (a burst must last about 6 s to count). Every 20 s, a CHECKPOINT before
# every third.
BURST_SECS, PERIOD_SECS, CHECKPOINT_EVERY = 4, 20, 3
CONFIGS = ("pace", "no-pace")
SETTINGS = {
    "checkpoint_timeout": "'300s'",
    "max_wal_size": "'1GB'",
    "fsync": "on",
    "log_min_messages": "debug1",
}


def run(config: str) -> dict:
    settings = {**SETTINGS, "walrus.pace_growth": "on" if config == "pace" else "off"}
    cluster = Cluster(VERSION, settings, preload=False, name=f"walrus-noise-{config}")
    try:
        cluster.start()
        cluster.pgbench_init(SCALE)
        cluster.preload_walrus()
        requested_before = cluster.requested_checkpoints()
        lsn_before = int(cluster.one("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"))
        began = time.monotonic()
        bursts = checkpoints = 0
        while time.monotonic() - began + BURST_SECS <= SECONDS:
            if bursts % CHECKPOINT_EVERY == 0:
                cluster.one("CHECKPOINT")
                checkpoints += 1
            burst = cluster.pgbench_load(CLIENTS, BURST_SECS)
            burst.communicate(timeout=BURST_SECS + 60)
            bursts += 1
            time.sleep(max(0.0, began + bursts * PERIOD_SECS - time.monotonic()))
        decisions = cluster.sql(
            "SELECT action, old_size_mb, new_size_mb, metadata->>'strategy', reason FROM walrus.history ORDER BY id"
        )
        return {
            "config": config,
            "bursts": bursts,
            "manual_checkpoints": checkpoints,
            "requested_checkpoints": cluster.requested_checkpoints() - requested_before,
            "wal_mb": round(
                (int(cluster.one("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")) - lsn_before) / 1048576
            ),
            "decisions": [list(d) for d in decisions],
            "final_mb": int(cluster.one("SELECT setting FROM pg_settings WHERE name = 'max_wal_size'")),
            "pace_lines": [
                line.split("pg_walrus: ", 1)[1]
                for line in cluster.log().splitlines()
                if "pg_walrus: pace-based growth" in line or "growing before the first forced checkpoint" in line
            ],
        }
    finally:
        cluster.close()


def main() -> None:
    results = {config: [] for config in CONFIGS}
    for repeat in range(REPEATS):
        for config in CONFIGS:  # interleaved
            results[config].append(run(config))
            print(f"repeat {repeat + 1}/{REPEATS} {config}: {json.dumps(results[config][-1])}", file=sys.stderr)
            if OUT:
                OUT.write_text(json.dumps({"version": VERSION, "seconds": SECONDS, "results": results}, indent=1))
    print(
        f"\nNoise: pgbench bursts of {BURST_SECS} s every {PERIOD_SECS} s, a CHECKPOINT before every "
        f"{CHECKPOINT_EVERY}rd, from 1 GB at a 5-minute checkpoint_timeout, fsync on, PostgreSQL {VERSION}; "
        f"{REPEATS} interleaved repeats of {SECONDS} s"
    )
    print("| walrus.pace_growth | bursts | requested checkpoints (manual) | WAL (MB) | decisions | final (MB) |")
    print("|---|---|---|---|---|---|")
    for config, runs in results.items():
        cells = [
            " / ".join(str(r["bursts"]) for r in runs),
            " / ".join(f"{r['requested_checkpoints']} ({r['manual_checkpoints']})" for r in runs),
            " / ".join(str(r["wal_mb"]) for r in runs),
            " / ".join(str(len(r["decisions"])) for r in runs),
            " / ".join(str(r["final_mb"]) for r in runs),
        ]
        print(f"| {'on' if config == 'pace' else 'off'} | {' | '.join(cells)} |")


if __name__ == "__main__":
    try:
        main()
    except subprocess.TimeoutExpired as error:
        sys.exit(f"a pgbench burst hung: {error}")
