"""Real-server benchmark (a script, not a test): pgbench TPC-B with and
without pg_walrus, against an oracle size. Run through scripts/bench_pgbench.sh.

Per run: a fresh cluster, pgbench data initialised before pg_walrus is
preloaded, then a restart so that the worker's baseline and the load start
together; checkpoint_timeout 30 s; max_wal_size 64 MB at the start; fsync on
(production's setting: with it off checkpoints cost far less than they do for
users; the fifth argument "off" gives the old runs). Every 30 s
from the load start (the worker's intervals) we record forced and timed
checkpoints, WAL written and max_wal_size.

Configurations, interleaved (A B C ... A B C ...):
  oracle          static max_wal_size = (1 + cct) x (W + 2 segments), W
                  measured first with a huge max_wal_size and no pg_walrus
  static-<N>MB    no pg_walrus, at the start size
  <strategy>      pg_walrus with walrus.algorithm = <strategy>, defaults
                  (walrus.pace_growth off)
  <strategy>+pace the same with walrus.pace_growth = on

Environment:
  WALRUS_BENCH_ORACLE_MB    the oracle size of an earlier probe of the same
                            load (skips the probe run)
  WALRUS_BENCH_CONFIGS      the configurations and their order, comma
                            separated; "name:N" runs it in the first N
                            repeats only (say, the oracle once: its run does
                            not depend on pg_walrus's build)
  WALRUS_BENCH_START_MB     max_wal_size at the start of the pg_walrus and
                            static runs (64; PostgreSQL's default is 1024)
  WALRUS_BENCH_TIMEOUT      checkpoint_timeout, in seconds (30)
  WALRUS_BENCH_SCALE        pgbench's scale (20)
  WALRUS_BENCH_SAMPLE       seconds between two samples of the counters (the
                            timeout: one sample per worker interval); at a
                            5-minute timeout, 30 s shows when in the cycle a
                            checkpoint was forced
  WALRUS_BENCH_LOAD_DELAY   seconds between the restart (the worker's first
                            interval, and the timed checkpoints' clock) and
                            the load (0): a load that starts partway through
                            the worker's interval

The first decision at a 5-minute checkpoint_timeout is measured by
scripts/bench_first_decision.sh.
"""

import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

# `--report FILE` only prints a saved run's table (see the end).
ARGS = [] if sys.argv[1:2] == ["--report"] else sys.argv[1:]
VERSION = ARGS[0] if len(ARGS) > 0 else "15"
REPEATS = int(ARGS[1]) if len(ARGS) > 1 else 3
# 360 s: twelve 30 s intervals. The default walrus.cooldown_sec (300 s) holds
# any change for ten intervals after the first grow, so a shrink can only show
# from the eleventh interval on; a shorter run would end every strategy at
# whatever it grew to first.
SECONDS = int(ARGS[2]) if len(ARGS) > 2 else 360
OUT = Path(ARGS[3]) if len(ARGS) > 3 else Path("docs")
FSYNC = ARGS[4] if len(ARGS) > 4 else "on"
STRATEGIES = ["multiplicative", "additive", "adaptive", "percentile"]
START_MB = int(os.environ.get("WALRUS_BENCH_START_MB", "64"))
STATIC = f"static-{START_MB}MB"
CONFIGS = ["oracle", STATIC, *STRATEGIES, *(f"{s}+pace" for s in STRATEGIES)]
INTERVAL = int(os.environ.get("WALRUS_BENCH_TIMEOUT", "30"))
SAMPLE = int(os.environ.get("WALRUS_BENCH_SAMPLE", str(INTERVAL)))
# pgbench's scale: 20 (about 330 MB, 42 000 pages) by default. A larger
# database makes a larger wave of full-page images after each checkpoint:
# at 50 (about 800 MB) the images of one 5-minute cycle alone can pass
# 1 GB's trigger (512 MB).
SCALE = int(os.environ.get("WALRUS_BENCH_SCALE", "20"))
LOAD_DELAY = float(os.environ.get("WALRUS_BENCH_LOAD_DELAY", "0"))
CLIENTS = 4
BASE = {
    "checkpoint_timeout": f"'{INTERVAL}s'",
    "min_wal_size": "'32MB'",
    "log_min_messages": "warning",
    "fsync": FSYNC,
}


def size_for_wal_mb(wal_bytes: float, cct: float = 0.9, segment_mb: int = 16) -> int:
    """The oracle formula (strategies/src/evidence/mod.rs, size_for_wal_mb)."""
    segments = math.ceil(wal_bytes / 1048576 / segment_mb) + 2
    return math.ceil((1 + cct) * segments * segment_mb)


def counters(c: Cluster):
    if int(VERSION) >= 17:
        req, timed = c.sql("SELECT num_requested, num_timed FROM pg_stat_checkpointer")[0]
    else:
        req, timed = c.sql("SELECT checkpoints_req, checkpoints_timed FROM pg_stat_bgwriter")[0]
    lsn = int(c.one("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn"))
    size = int(c.one("SELECT setting FROM pg_settings WHERE name = 'max_wal_size'"))
    return req, timed, lsn, size


def run(config: str, max_wal_size_mb: int) -> dict:
    strategy, _, pace = config.partition("+")
    walrus = strategy in STRATEGIES
    settings = dict(BASE, max_wal_size=f"'{max_wal_size_mb}MB'")
    cluster = Cluster(VERSION, settings, preload=False, name=f"walrus-bench-{config}")
    try:
        cluster.start()
        pgbench = str(cluster.bindir / "pgbench")
        args = cluster.pgbench_args()
        cluster.pgbench_init(SCALE)
        if walrus:
            cluster.preload_walrus(
                {
                    "walrus.algorithm": f"'{strategy}'",
                    "walrus.pace_growth": "on" if pace else "off",
                    "log_min_messages": "debug1",
                }
            )
        else:
            cluster.restart()
        # The server idles (the worker's interval runs) before the load.
        time.sleep(LOAD_DELAY)
        logdir = cluster.root / "pgbench-log"
        logdir.mkdir()
        load = subprocess.Popen(
            [
                pgbench,
                "-c",
                str(CLIENTS),
                "-j",
                "2",
                "-T",
                str(SECONDS),
                "--log",
                "--sampling-rate=0.05",
                f"--log-prefix={logdir}/tx",
                *args,
                "postgres",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        began = time.monotonic()
        previous = counters(cluster)
        intervals = []
        began_at = cluster.one("SELECT now()") if walrus else None
        for k in range(1, SECONDS // SAMPLE + 1):
            time.sleep(max(0.0, began + k * SAMPLE - time.monotonic()))
            now = counters(cluster)
            intervals.append(
                {
                    "forced": now[0] - previous[0],
                    "timed": now[1] - previous[1],
                    "wal_bytes": now[2] - previous[2],
                    "max_wal_size_mb": now[3],
                }
            )
            previous = now
        # The decisions, seconds from the load's start: when a grow came
        # against when the checkpoints were forced.
        decisions = (
            [
                {
                    "at_s": float(at),
                    "action": action,
                    "old_mb": old,
                    "new_mb": new,
                    "strategy": strategy,
                    "metadata": metadata,
                }
                for at, action, old, new, strategy, metadata in cluster.sql(
                    'SELECT extract(epoch FROM "timestamp" - %s), action, old_size_mb, new_size_mb, '
                    "metadata->>'strategy', metadata FROM walrus.history ORDER BY id",
                    (began_at,),
                )
            ]
            if walrus
            else []
        )
        # The pace rule's lines: a grow, or why a pace that would reach the
        # trigger grew nothing (DEBUG1).
        pace_lines = [
            line.split("pg_walrus: ", 1)[1]
            for line in cluster.log().splitlines()
            if "pg_walrus: pace-based growth" in line or "growing before the first forced checkpoint" in line
        ]
        out = load.communicate(timeout=120)[0]
        tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
        latencies = []
        for f in logdir.glob("tx*"):
            for line in f.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    latencies.append(int(parts[2]) / 1000.0)  # ms
        latencies.sort()
        p99 = latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan")
        return {
            "config": config,
            "intervals": intervals,
            "decisions": decisions,
            "pace_lines": pace_lines,
            "tps": tps,
            "p99_ms": p99,
            "wal_bytes": sum(i["wal_bytes"] for i in intervals),
            "final_mb": intervals[-1]["max_wal_size_mb"] if intervals else max_wal_size_mb,
        }
    finally:
        cluster.close()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    # WALRUS_BENCH_ORACLE_MB: the oracle size of an earlier probe of the same
    # load, to skip measuring it again.
    known = os.environ.get("WALRUS_BENCH_ORACLE_MB")
    probe = None
    if known:
        oracle_mb = int(known)
        print(f"oracle {oracle_mb} MB (WALRUS_BENCH_ORACLE_MB)", file=sys.stderr)
    else:
        print(f"measuring WAL per interval with max_wal_size = 64 GB, no pg_walrus ({SECONDS} s)", file=sys.stderr)
        probe = run("measure", 65536)
        per_interval = [i["wal_bytes"] for i in probe["intervals"][1:]] or [probe["wal_bytes"]]
        oracle_mb = size_for_wal_mb(max(per_interval))
        print(f"WAL per interval: max {max(per_interval) / 1048576:.0f} MB -> oracle {oracle_mb} MB", file=sys.stderr)

    configs = configs_and_repeats()
    results = {c: [] for c in configs}
    for repeat in range(REPEATS):
        for config, repeats in configs.items():
            if repeat >= repeats:
                continue
            start_mb = oracle_mb if config == "oracle" else START_MB
            print(f"repeat {repeat + 1}/{REPEATS}: {config}", file=sys.stderr)
            results[config].append(run(config, start_mb))
            # After every run: an interrupted benchmark keeps what it measured.
            (OUT / "benchmark.json").write_text(
                json.dumps(
                    {
                        "version": VERSION,
                        "scale": SCALE,
                        "seconds": SECONDS,
                        "fsync": FSYNC,
                        "start_mb": START_MB,
                        "checkpoint_timeout": INTERVAL,
                        "sample_s": SAMPLE,
                        "load_delay_s": LOAD_DELAY,
                        "oracle_mb": oracle_mb,
                        "probe": probe,
                        "results": results,
                    },
                    indent=1,
                )
            )
    print(report(results, oracle_mb))


def configs_and_repeats() -> dict:
    """WALRUS_BENCH_CONFIGS ("name" or "name:N", comma separated), in order,
    with the number of repeats each runs in; every configuration, every
    repeat by default."""
    spec = os.environ.get("WALRUS_BENCH_CONFIGS")
    if not spec:
        return dict.fromkeys(CONFIGS, REPEATS)
    configs = {}
    for item in spec.split(","):
        name, _, repeats = item.strip().partition(":")
        if name not in CONFIGS:
            sys.exit(f"WALRUS_BENCH_CONFIGS: unknown configuration {name!r}")
        configs[name] = int(repeats) if repeats else REPEATS
    return configs


def first_quiet_interval(intervals):
    """1-based interval from which on no checkpoint was forced."""
    for k in range(len(intervals)):
        if all(i["forced"] == 0 for i in intervals[k:]):
            return k + 1
    return None


def wal_after_first(run):
    """WAL written from the second interval on: after the worker's first
    decision, the part of the run a strategy is answerable for."""
    return sum(i["wal_bytes"] for i in run["intervals"][1:])


def wal_per_transaction(run):
    """WAL bytes per pgbench transaction: the run's WAL with its throughput
    taken out. A run that another tenant of the machine slowed writes less
    WAL in the same 360 s, and its total alone would look like a saving."""
    return run["wal_bytes"] / (run["tps"] * SECONDS)


def report(results, oracle_mb):
    """The table; `results` may be cut short (an interrupted run): each
    configuration is reported over the runs it has, ratios to the oracle
    over the repeats both have."""
    results = {config: runs for config, runs in results.items() if runs}
    # Without an oracle run (WALRUS_BENCH_CONFIGS left it out) the ratios
    # to its run are NaN.
    oracle_runs = results.get("oracle") or [{"wal_bytes": math.nan, "tps": math.nan, "intervals": []}]
    oracle_wal = statistics.median(r["wal_bytes"] for r in oracle_runs)
    oracle_wal_later = statistics.median(wal_after_first(r) for r in oracle_runs) or math.nan
    oracle_per_tx = statistics.median(wal_per_transaction(r) for r in oracle_runs)
    oracle_tps = [r["tps"] for r in oracle_runs]
    lines = [
        (
            f"Oracle size: {oracle_mb} MB. Medians over up to {REPEATS} interleaved runs of {SECONDS} s, "
            f"fsync = {FSYNC}."
        ),
        "",
        (
            "| configuration | forced checkpoints per interval | zero forced from interval | size after interval 1 / "
            "oracle | final max_wal_size | final / oracle | WAL / oracle run | WAL from interval 2 / oracle | "
            "WAL per transaction / oracle's | TPS / oracle (median of pairs) | p99 latency (ms) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config, runs in results.items():
        forced = [" ".join(str(i["forced"]) for i in r["intervals"]) for r in runs]
        quiet = [first_quiet_interval(r["intervals"]) for r in runs]
        final = statistics.median(r["final_mb"] for r in runs)
        # The first decision's size: nothing changes twice inside interval 1
        # (the cooldown), so the size at its end is the first decision's.
        first = statistics.median(r["intervals"][0]["max_wal_size_mb"] for r in runs) / oracle_mb
        wal = statistics.median(r["wal_bytes"] for r in runs) / oracle_wal
        wal_later = statistics.median(wal_after_first(r) for r in runs) / oracle_wal_later
        per_tx = statistics.median(wal_per_transaction(r) for r in runs) / oracle_per_tx
        ratios = [r["tps"] / o for r, o in zip(runs, oracle_tps, strict=False)]
        lines.append(
            f"| {config} | {' / '.join(forced)} | {', '.join(str(q) if q else 'never' for q in quiet)} | "
            f"{first:.2f} | {final:.0f} MB | {final / oracle_mb:.2f} | {wal:.2f} | {wal_later:.2f} | {per_tx:.2f} | "
            f"{statistics.median(ratios):.2f} | "
            f"{statistics.median(r['p99_ms'] for r in runs):.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--report":
        # The table of a saved (perhaps interrupted) run: --report FILE.
        saved = json.loads(Path(sys.argv[2]).read_text())
        REPEATS = max(len(runs) for runs in saved["results"].values())
        SECONDS, FSYNC = saved["seconds"], saved.get("fsync", "off")
        print(report(saved["results"], saved["oracle_mb"]))
    else:
        main()
