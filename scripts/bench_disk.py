"""Real-server benchmark of the WAL disk guard (specs/disk.md), a script, not
a test. Run through scripts/bench_disk.sh.

pg_wal on a tmpfs of its own (FS_MB), smaller than what pgbench TPC-B
(scale 20, 4 clients, as scripts/bench_pgbench.py) asks of max_wal_size at
checkpoint_timeout 30 s (about 900 MB): a pg_walrus free to follow the load
grows max_wal_size past what the filesystem holds, and ENOSPC in pg_wal is a
PANIC.

Per run: a fresh cluster, pgbench data initialised before pg_walrus is
preloaded, then a restart so that the worker's baseline and the load start
together; max_wal_size 64 MB at the start, walrus.min_size 64 MB (so the
guard's ceiling is not below it), early reaction on, log_min_messages
warning (debug1 only until the worker's baseline is in the log).

Configurations, interleaved (A B C A B C ...):
  guard-on   pg_walrus, walrus.max_wal_disk_fraction at its default (0.25)
  guard-off  pg_walrus, walrus.max_wal_disk_fraction = 0
  no-walrus  not preloaded, max_wal_size a static 64 MB

Per run: survived (no PANIC in the log and the postmaster accepting
connections at the end), seconds until the PANIC (to the second), peak
pg_wal and filesystem use (sampled every 0.2 s), forced checkpoints per 30 s
interval from the load's start, final and largest max_wal_size, TPS
(pgbench's own figure; none for a run that PANICked) and the disk ceiling
walrus.status() reported. A run that PANICs ends there.

    scripts/bench_disk.sh [version] [repeats] [seconds-per-run]
"""

import json
import re
import statistics
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 240
OUT = Path("docs")
CONFIGS = ["guard-on", "guard-off", "no-walrus"]
FS_MB = 600
INTERVAL = 30
SCALE, CLIENTS = 20, 4
START_MB = 64
MB = 1024 * 1024
BASE = {
    "checkpoint_timeout": f"'{INTERVAL}s'",
    "min_wal_size": "'32MB'",
    "max_wal_size": f"'{START_MB}MB'",
    "log_min_messages": "warning",
}
WALRUS = {"walrus.min_size": f"'{START_MB}MB'", "walrus.early_reaction": "on"}
FRACTION = {"guard-on": {}, "guard-off": {"walrus.max_wal_disk_fraction": "0"}}
BASELINE = r"pg_walrus: baseline taken at \d+ requested checkpoints"
PANIC = re.compile(r"PANIC:  [^\n]*")
# Every wait is bounded: the samples' statements, a connection attempt, and
# pgbench's end past its -T.
CONNECT = "connect_timeout=5 options='-c statement_timeout=5000'"
PGBENCH_GRACE = 120


def connect(cluster: Cluster):
    return psycopg.connect(f"{cluster.dsn()} {CONNECT}", autocommit=True)


def sample(conn, walrus: bool) -> tuple[int, int, float | None]:
    """(requested checkpoints, max_wal_size MB, disk ceiling MB or None)."""
    if int(VERSION) >= 17:
        requested = "SELECT num_requested FROM pg_stat_checkpointer"
    else:
        requested = "SELECT checkpoints_req FROM pg_stat_bgwriter"
    ceiling = "(walrus.status()->>'disk_ceiling_mb')::float8" if walrus else "NULL::float8"
    return conn.execute(
        f"SELECT ({requested}), (SELECT setting::int FROM pg_settings WHERE name = 'max_wal_size'), {ceiling}"
    ).fetchone()


def accepting(cluster: Cluster) -> bool:
    try:
        with connect(cluster) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def stop(process: subprocess.Popen) -> str:
    """Ends pgbench (if it has not ended) and returns its output."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate(timeout=30)[0]


def run(config: str) -> dict:
    walrus = config != "no-walrus"
    cluster = Cluster(VERSION, BASE, preload=False, name=f"walrus-bench-disk-{config}", wal_fs_mb=FS_MB)
    load = None
    try:
        cluster.start()
        fs_bytes = cluster.wal_fs_usage().size
        pgbench = str(cluster.bindir / "pgbench")
        args = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
        subprocess.run(
            [pgbench, "-i", "-s", str(SCALE), "-q", *args, "postgres"], check=True, capture_output=True, timeout=600
        )
        cluster.one("CHECKPOINT")
        ceiling_at_start = None
        if walrus:
            with open(cluster.datadir / "postgresql.conf", "a") as conf:
                conf.write("shared_preload_libraries = 'pg_walrus'\n")
                conf.writelines(f"{key} = {value}\n" for key, value in {**WALRUS, **FRACTION[config]}.items())
                conf.write("log_min_messages = debug1\n")
            cluster.restart()
            cluster.sql("CREATE EXTENSION pg_walrus")
            cluster.wait_for_log(BASELINE, 60)
            with open(cluster.datadir / "postgresql.conf", "a") as conf:
                conf.write("log_min_messages = warning\n")
            cluster.sql("SELECT pg_reload_conf()")
            if config == "guard-on":
                deadline = time.monotonic() + 30
                with connect(cluster) as conn:
                    while (ceiling_at_start := sample(conn, True)[2]) is None:
                        if time.monotonic() > deadline:
                            raise RuntimeError("walrus.status() reported no disk ceiling within 30 s")
                        time.sleep(0.5)
        else:
            cluster.restart()

        start = cluster.log_offset()
        conn = connect(cluster)
        first = sample(conn, walrus)
        requested_at = [first[0]]  # at the load's start and each interval's end
        sizes, ceilings = [first[1]], [first[2]] if first[2] is not None else []
        panic, panic_s = None, None
        with cluster.sample_wal(0.2) as sampler:
            began = time.monotonic()
            load = subprocess.Popen(
                [pgbench, "-c", str(CLIENTS), "-j", "2", "-T", str(SECONDS), *args, "postgres"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            while load.poll() is None and time.monotonic() < began + SECONDS + PGBENCH_GRACE:
                time.sleep(max(0.0, 1.0 - (time.monotonic() - began) % 1.0))
                if panic := PANIC.search(cluster.log(), start):
                    panic_s = round(time.monotonic() - began)
                    break
                try:
                    if conn is None:
                        conn = connect(cluster)
                    requested, size, ceiling = sample(conn, walrus)
                except psycopg.Error:
                    if conn is not None:
                        conn.close()
                    conn = None
                    continue
                sizes.append(size)
                if ceiling is not None:
                    ceilings.append(ceiling)
                if time.monotonic() - began >= len(requested_at) * INTERVAL:
                    requested_at.append(requested)
            if conn is not None:
                conn.close()
            out = stop(load)
            if panic is None and (panic := PANIC.search(cluster.log(), start)):
                panic_s = round(time.monotonic() - began)
        alive = accepting(cluster)
        tps = re.search(r"tps = ([\d.]+)", out)
        forced = [b - a for a, b in pairwise(requested_at)]
        result = {
            "config": config,
            "survived": panic is None and alive,
            "accepting_at_end": alive,
            "panic_after_s": panic_s,
            "panic": panic.group(0) if panic else None,
            "fs_mb": fs_bytes / MB,
            "peak_pg_wal_mb": sampler.peak_pg_wal / MB,
            "peak_fs_used_mb": sampler.peak_fs_used / MB,
            "wal_samples": sampler.samples,
            "forced_per_interval": forced,
            "final_max_wal_size_mb": sizes[-1],
            "max_max_wal_size_mb": max(sizes),
            "disk_ceiling_at_start_mb": ceiling_at_start,
            "disk_ceiling_min_mb": min(ceilings) if ceilings else None,
            "disk_ceiling_last_mb": ceilings[-1] if ceilings else None,
            "tps": float(tps.group(1)) if tps and panic is None else None,
            "pgbench_exit": load.returncode,
        }
        if panic is None and result["tps"] is None:
            result["pgbench_output"] = out[-2000:]
        return result
    finally:
        if load is not None and load.poll() is None:
            stop(load)
        cluster.close()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, unit: str = "", digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def report(results: dict) -> str:
    baseline = results["no-walrus"]
    lines = [
        (
            f"WAL disk guard, PostgreSQL {VERSION}: pg_wal on a {FS_MB} MB tmpfs, pgbench TPC-B scale {SCALE}, "
            f"{CLIENTS} clients, checkpoint_timeout {INTERVAL} s, max_wal_size {START_MB} MB at the start. "
            f"Medians over {REPEATS} interleaved runs of {SECONDS} s; forced checkpoints per {INTERVAL} s interval."
        ),
        "",
        (
            "| configuration | survived | PANIC after (s) | peak pg_wal / filesystem | forced per interval | "
            "forced in interval 1 | final max_wal_size | largest max_wal_size | disk ceiling (status) | TPS | "
            "TPS / no-walrus |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config, runs in results.items():
        survived = sum(r["survived"] for r in runs)
        peak = median(r["peak_pg_wal_mb"] for r in runs)
        fs = median(r["fs_mb"] for r in runs)
        per_interval = median(median(r["forced_per_interval"]) for r in runs)
        first = median(r["forced_per_interval"][0] if r["forced_per_interval"] else None for r in runs)
        panics = [r["panic_after_s"] for r in runs if r["panic_after_s"] is not None]
        panic_s = f"{statistics.median(panics):.0f} ({len(panics)} of {len(runs)})" if panics else "never"
        ratios = [
            r["tps"] / b["tps"] if r["tps"] is not None and b["tps"] else None
            for r, b in zip(runs, baseline, strict=True)
        ]
        lines.append(
            f"| {config} | {survived}/{len(runs)} | {panic_s} | "
            f"{fmt(peak, ' MB')} / {fmt(fs, ' MB')} ({fmt(peak / fs if peak and fs else None, digits=2)}) | "
            f"{fmt(per_interval, digits=1)} | {fmt(first)} | "
            f"{fmt(median(r['final_max_wal_size_mb'] for r in runs), ' MB')} | "
            f"{fmt(median(r['max_max_wal_size_mb'] for r in runs), ' MB')} | "
            f"{fmt(median(r['disk_ceiling_last_mb'] for r in runs), ' MB')} | "
            f"{fmt(median(r['tps'] for r in runs))} | {fmt(median(ratios), digits=2)} |"
        )
    return "\n".join(lines)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    results = {c: [] for c in CONFIGS}
    for repeat in range(REPEATS):
        for config in CONFIGS:
            print(f"repeat {repeat + 1}/{REPEATS}: {config}", file=sys.stderr)
            r = run(config)
            results[config].append(r)
            print(
                f"  survived {r['survived']}, PANIC after {fmt(r['panic_after_s'], ' s').replace('n/a', 'never')}, "
                f"pg_wal peak {r['peak_pg_wal_mb']:.0f} MB of {r['fs_mb']:.0f} MB, forced {r['forced_per_interval']}, "
                f"max_wal_size {r['final_max_wal_size_mb']} MB (largest {r['max_max_wal_size_mb']} MB), "
                f"TPS {fmt(r['tps'])}",
                file=sys.stderr,
            )
    (OUT / "benchmark-disk.json").write_text(
        json.dumps(
            {
                "version": VERSION,
                "seconds": SECONDS,
                "fs_mb": FS_MB,
                "scale": SCALE,
                "clients": CLIENTS,
                "interval_s": INTERVAL,
                "results": results,
            },
            indent=1,
        )
    )
    print(report(results))


if __name__ == "__main__":
    main()
