"""Benchmark: what the worker costs on an idle server (a script, not a test).

Early reaction makes the worker glance at the WAL insert position once a
second at any checkpoint_timeout (a wake-up and two words of shared memory,
no transaction; four times a second at storm pace); it looks at the
statistics (one read-only transaction) only while WAL comes fast enough to
force checkpoints, so never here. The smallest checkpoint_timeout (30 s) is
used: the most cycles. This measures the worker's CPU time with
walrus.early_reaction on and off, on a fresh idle cluster per run,
interleaved (on off on off ...), from /proc/PID/schedstat (nanoseconds on
CPU), with the background writer (which wakes every 200 ms) of the same
cluster as a yardstick.

The WAL disk guard (walrus.max_wal_disk_fraction) adds a check every 10 s
whatever the interval (statvfs, a read of pg_wal, one transaction reading
pg_replication_slots): each configuration runs with the guard on (the default
0.25) and off (0), so its cost is the difference.

Under walrus.apply_via = patroni every disk check also reads
pg_file_settings (is there a postgresql.auto.conf line to remove?): the
last configuration is the default one with that setting, so its cost is the
difference to the first. Idle, nothing is sent to Patroni.

Pace-based growth (walrus.pace_growth) reads the redo point with each glance
(one more word of shared memory under the same spinlock): the default
configuration runs with it on and off.

    scripts/bench_idle.sh [version] [rounds] [seconds-per-run]

WALRUS_IDLE_MODES picks configurations by name (comma separated; every one
by default): default, early-off, guard-off, early-off-guard-off, patroni,
pace-off. The cost lines need both configurations they compare.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 120
# name: (walrus.early_reaction, walrus.max_wal_disk_fraction, walrus.apply_via, walrus.pace_growth)
ALL_MODES = {
    "default": ("on", "0.25", "alter_system", "on"),
    "early-off": ("off", "0.25", "alter_system", "on"),
    "guard-off": ("on", "0", "alter_system", "on"),
    "early-off-guard-off": ("off", "0", "alter_system", "on"),
    "patroni": ("on", "0.25", "patroni", "on"),
    "pace-off": ("on", "0.25", "alter_system", "off"),
}
SELECTED = os.environ.get("WALRUS_IDLE_MODES")
MODES = tuple(ALL_MODES[name.strip()] for name in SELECTED.split(",")) if SELECTED else tuple(ALL_MODES.values())


def cpu_ns(pid: int) -> int:
    """Time the process has spent on a CPU, in nanoseconds."""
    return int(open(f"/proc/{pid}/schedstat").read().split()[0])


def one_run(mode: tuple[str, str, str]) -> tuple[float, float]:
    """(worker, bgwriter) CPU in ms per hour over SECONDS of an idle cluster."""
    early, fraction, apply_via, pace = mode
    settings = {
        "checkpoint_timeout": "'30s'",
        "walrus.early_reaction": early,
        "walrus.max_wal_disk_fraction": fraction,
        "walrus.apply_via": apply_via,
        "walrus.pace_growth": pace,
    }
    with Cluster(VERSION, settings, name="walrus-idle") as cluster:
        cluster.sql("CREATE EXTENSION pg_walrus")
        cluster.wait_for_log(r"pg_walrus worker started", 60)
        time.sleep(5)  # past the first transaction's catalogue loading
        worker = cluster.worker_pid()
        bgwriter = cluster.one("SELECT pid FROM pg_stat_activity WHERE backend_type = 'background writer'")
        start = (cpu_ns(worker), cpu_ns(bgwriter))
        time.sleep(SECONDS)
        end = (cpu_ns(worker), cpu_ns(bgwriter))
        assert cluster.worker_pid() == worker, "the worker restarted during the run"
    per_hour = 3600 / SECONDS / 1e6
    return (end[0] - start[0]) * per_hour, (end[1] - start[1]) * per_hour


def main() -> None:
    runs = {mode: [] for mode in MODES}
    for round_no in range(ROUNDS):
        for mode in MODES:  # interleaved: every configuration once per round
            runs[mode].append(one_run(mode))
            worker_ms, bgwriter_ms = runs[mode][-1]
            print(
                f"round {round_no + 1}/{ROUNDS} early_reaction={mode[0]} disk fraction={mode[1]} "
                f"apply_via={mode[2]} pace_growth={mode[3]}: "
                f"worker {worker_ms:.0f} ms/h, bgwriter {bgwriter_ms:.0f} ms/h",
                file=sys.stderr,
            )

    med = {mode: [statistics.median(r[i] for r in runs[mode]) for i in range(2)] for mode in MODES}
    print(
        f"\nIdle worker cost, PostgreSQL {VERSION}, checkpoint_timeout 30 s, "
        f"{ROUNDS} interleaved rounds of {SECONDS} s (medians)"
    )
    print(
        "| walrus.early_reaction | walrus.max_wal_disk_fraction | walrus.apply_via | walrus.pace_growth "
        "| worker CPU (ms per hour) | bgwriter CPU (ms per hour) | worker / bgwriter |"
    )
    print("|---|---|---|---|---|---|---|")
    for mode in MODES:
        worker_ms, bgwriter_ms = med[mode]
        print(
            f"| {mode[0]} | {mode[1]} | {mode[2]} | {mode[3]} | {worker_ms:.0f} | {bgwriter_ms:.0f} "
            f"| {worker_ms / bgwriter_ms:.2f} |"
        )
    worker = {name: med[mode][0] for name, mode in ALL_MODES.items() if mode in med}

    def cost(line: str, more: str, less: str) -> None:
        if more in worker and less in worker:
            ms = worker[more] - worker[less]
            print(line.format(ms=ms, core=ms / 36000))

    print()
    cost(
        "early reaction's glances cost {ms:.0f} ms of CPU per hour ({core:.4f} % of one core)",
        "guard-off",
        "early-off-guard-off",
    )
    cost(
        "the disk guard's checks cost {ms:.0f} ms of CPU per hour ({core:.4f} % of one core)",
        "early-off",
        "early-off-guard-off",
    )
    cost("apply_via = patroni's look at the files costs {ms:.0f} ms of CPU per hour", "patroni", "default")
    cost(
        "pace-based growth's redo reads cost {ms:.0f} ms of CPU per hour ({core:.4f} % of one core)",
        "default",
        "pace-off",
    )


if __name__ == "__main__":
    main()
