"""Benchmark: the cost of walrus.status() (a script, not a test).

Interleaves `SELECT 1` and `SELECT walrus.status()` under pgbench (A B A B ...)
on a throwaway preloaded cluster, and prints medians and ratios: single-client
latency, 4-client throughput, and the server-side cost of one call measured
inside one statement (the steadiest figure on a noisy machine).

    scripts/bench_status.sh [version] [rounds] [seconds-per-run]
"""

import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 10
QUERIES = {"SELECT 1": "SELECT 1;\n", "walrus.status()": "SELECT walrus.status();\n"}


def pgbench(cluster, script: Path, clients: int) -> tuple[float, float]:
    out = subprocess.run(
        [
            str(cluster.bindir / "pgbench"),
            "-n",
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            "-f",
            str(script),
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(SECONDS),
            "postgres",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    return latency, tps


def server_side_us(cluster, expression: str, calls: int = 20000) -> float:
    with cluster.connect() as conn:
        conn.execute(f"SELECT count({expression}) FROM generate_series(1, 100)")  # warm up
        began = time.perf_counter()
        conn.execute(f"SELECT count({expression}) FROM generate_series(1, {calls})")
        return (time.perf_counter() - began) / calls * 1e6


def main() -> None:
    with Cluster(VERSION, {"checkpoint_timeout": "'30s'"}, name="walrus-bench") as cluster:
        cluster.sql("CREATE EXTENSION pg_walrus")
        cluster.wait_for_log(r"pg_walrus worker started", 30)
        scripts = {}
        for name, sql in QUERIES.items():
            with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
                f.write(sql)
            scripts[name] = Path(f.name)
        single = {name: [] for name in QUERIES}
        multi = {name: [] for name in QUERIES}
        inside = {name: [] for name in QUERIES}
        for round_no in range(ROUNDS):
            for name in QUERIES:  # interleaved: A B, A B, ...
                single[name].append(pgbench(cluster, scripts[name], 1)[0])
                multi[name].append(pgbench(cluster, scripts[name], 4)[1])
                inside[name].append(server_side_us(cluster, "1" if name == "SELECT 1" else "walrus.status()"))
            print(f"round {round_no + 1}/{ROUNDS} done", file=sys.stderr)

    med = {
        k: {n: statistics.median(v) for n, v in d.items()}
        for k, d in {"single": single, "multi": multi, "inside": inside}.items()
    }
    print(f"\nwalrus.status() cost, PostgreSQL {VERSION}, {ROUNDS} interleaved rounds of {SECONDS}s")
    print("| measure | SELECT 1 | walrus.status() | ratio |")
    print("|---|---|---|---|")
    print(
        f"| median latency, 1 client (ms) | {med['single']['SELECT 1']:.3f} | {med['single']['walrus.status()']:.3f} | "
        f"{med['single']['walrus.status()'] / med['single']['SELECT 1']:.2f} |"
    )
    print(
        f"| median throughput, 4 clients (tps) | {med['multi']['SELECT 1']:.0f} | {med['multi']['walrus.status()']:.0f} | "
        f"{med['multi']['walrus.status()'] / med['multi']['SELECT 1']:.2f} |"
    )
    print(
        f"| server-side cost per call (us) | {med['inside']['SELECT 1']:.2f} | {med['inside']['walrus.status()']:.2f} | "
        f"{med['inside']['walrus.status()'] / med['inside']['SELECT 1']:.1f} |"
    )
    target = med["single"]["walrus.status()"]
    print(f"\ntarget: median status() latency <= 1 ms: {'met' if target <= 1.0 else 'MISSED'} ({target:.3f} ms)")


if __name__ == "__main__":
    main()
