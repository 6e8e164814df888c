"""Benchmark: how soon the first decision comes into a storm, at a short and
at PostgreSQL's default checkpoint_timeout (a script, not a test). Run
through scripts/bench_first_decision.sh.

Per run: a fresh cluster with fsync on (production's setting), pgbench data
initialised and checkpointed, then a restart with pg_walrus preloaded
(defaults: multiplicative, early reaction on) at max_wal_size 64 MB and the
given checkpoint_timeout, so that the worker's interval and the load start
together; then pgbench TPC-B with 4 clients for SECONDS. From the server log
(log_checkpoints): the WAL-triggered checkpoints that started before the
first resize, and when that resize came. The timeouts are interleaved
(30 s, 5 min, 30 s, 5 min, ...), and medians reported.

    scripts/bench_first_decision.sh [version] [repeats] [seconds]
"""

import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 60
TIMEOUTS = ("30s", "5min")
SCALE, CLIENTS = 20, 4
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})", re.MULTILINE)
WAL_CHECKPOINT = re.compile(r"LOG:  checkpoint starting:[a-z -]* wal\b")
RESIZED = re.compile(r"LOG:  pg_walrus: resizing max_wal_size from (\d+) MB to (\d+) MB")


def stamp_of(log: str, pos: int) -> datetime:
    line_start = log.rfind("\n", 0, pos) + 1
    return datetime.strptime(STAMP.match(log, line_start).group(1), "%Y-%m-%d %H:%M:%S.%f")


def one_run(timeout: str) -> dict:
    settings = {
        "checkpoint_timeout": f"'{timeout}'",
        "max_wal_size": "'64MB'",
        "min_wal_size": "'32MB'",
        "fsync": "on",
        "log_checkpoints": "on",
    }
    with Cluster(VERSION, settings, preload=False, name="walrus-first") as cluster:
        pgbench = str(cluster.bindir / "pgbench")
        args = cluster.pgbench_args()
        cluster.pgbench_init(SCALE)
        cluster.preload_walrus(ready=r"pg_walrus worker started")
        start = cluster.log_offset()
        # The load's start on the server's log clock.
        load_start = datetime.strptime(
            cluster.one(
                "SELECT to_char(clock_timestamp() AT TIME ZONE current_setting('log_timezone'), "
                "'YYYY-MM-DD HH24:MI:SS.MS')"
            ),
            "%Y-%m-%d %H:%M:%S.%f",
        )
        load = subprocess.run(
            [pgbench, "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(SECONDS), *args, "postgres"],
            capture_output=True,
            text=True,
            check=True,
        )
        time.sleep(1)
        log = cluster.log()
        resize = RESIZED.search(log, start)
        first_at = resize.start() if resize else len(log)
        before = len(WAL_CHECKPOINT.findall(log, start, first_at))
        total = len(WAL_CHECKPOINT.findall(log, start))
        tps = float(re.search(r"tps = ([\d.]+)", load.stdout).group(1))
        secs = (stamp_of(log, resize.start()) - load_start).total_seconds() if resize else None
        return {
            "wal_checkpoints_before_first_resize": before,
            "wal_checkpoints_in_run": total,
            "first_resize_secs": secs,
            "first_resize": resize and f"{resize.group(1)} -> {resize.group(2)} MB",
            "tps": tps,
        }


def main() -> None:
    runs = {timeout: [] for timeout in TIMEOUTS}
    for repeat in range(REPEATS):
        for timeout in TIMEOUTS:
            result = one_run(timeout)
            runs[timeout].append(result)
            print(f"repeat {repeat + 1}/{REPEATS} checkpoint_timeout={timeout}: {result}", file=sys.stderr)
    print(
        f"\nFirst decision into a pgbench storm (TPC-B, scale {SCALE}, {CLIENTS} clients, {SECONDS} s, "
        f"from 64 MB, fsync on), PostgreSQL {VERSION}, {REPEATS} interleaved repeats (medians; all runs)"
    )
    print(
        "| checkpoint_timeout | WAL-triggered checkpoints before the first resize | first resize after (s) "
        f"| WAL-triggered checkpoints in {SECONDS} s | tps |"
    )
    print("|---|---|---|---|---|")
    for timeout in TIMEOUTS:
        rows = runs[timeout]

        def cell(key, rows=rows):
            values = [r[key] for r in rows if r[key] is not None]
            if not values:
                return "never"
            return f"{statistics.median(values):.0f} ({', '.join(f'{v:.0f}' for v in values)})"

        print(
            f"| {timeout} | {cell('wal_checkpoints_before_first_resize')} | {cell('first_resize_secs')} "
            f"| {cell('wal_checkpoints_in_run')} | {cell('tps')} |"
        )


if __name__ == "__main__":
    main()
