"""How much WAL a streaming standby keeps in pg_wal, against its own
max_wal_size and the primary's.

A standby removes WAL only at a restartpoint, and a restartpoint can only
be made at a checkpoint record the primary wrote and the standby replayed
(CreateRestartPoint in xlog.c: "skipping restartpoint, already performed").
The standby's own max_wal_size asks for a restartpoint sooner, but cannot
make one happen between the primary's checkpoints. This measures it: a
primary with a large max_wal_size takes a WAL burst; its standby runs at a
small or at the same size; the standby's peak pg_wal is printed for each,
with the number of restartpoints it made. No pg_walrus: plain PostgreSQL.

    scripts/bench_standby_retention.sh [version] [burst MB] [repeats]
"""

import re
import sys
import time

from pgcluster import Cluster

PRIMARY_SIZE = "1GB"
STANDBY_SIZES = ["32MB", "1GB"]
RESTARTPOINT = re.compile(r"LOG:  restartpoint starting:")
COMMON = {"checkpoint_timeout": "'60s'", "min_wal_size": "'32MB'", "wal_keep_size": "0"}


def run_once(version: str, burst_mb: int, standby_size: str) -> dict:
    with (
        Cluster(version, {**COMMON, "max_wal_size": f"'{PRIMARY_SIZE}'"}, preload=False, name="ret-primary") as primary,
        Cluster(
            version,
            {**COMMON, "max_wal_size": f"'{standby_size}'", "hot_standby": "on"},
            preload=False,
            name="ret-standby",
            standby_of=primary,
        ) as standby,
    ):
        primary.sql("CHECKPOINT")
        start = standby.log_offset()
        with standby.sample_wal() as sampler:
            began = time.monotonic()
            primary.generate_wal(burst_mb)
            lsn = primary.one("SELECT pg_current_wal_lsn()::text")
            deadline = time.monotonic() + 300
            while not standby.one("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the standby did not replay up to {lsn} within 300 s")
                time.sleep(0.2)
            burst_secs = time.monotonic() - began
            time.sleep(2)
        return {
            "standby_max_wal_size": standby_size,
            "burst_mb": burst_mb,
            "burst_secs": round(burst_secs, 1),
            "standby_peak_pg_wal_mb": round(sampler.peak_pg_wal / 2**20),
            "restartpoints": len(RESTARTPOINT.findall(standby.log()[start:])),
        }


def main() -> None:
    version = sys.argv[1] if len(sys.argv) > 1 else "15"
    burst_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    print(f"PostgreSQL {version}: primary max_wal_size {PRIMARY_SIZE}, burst {burst_mb} MB, checkpoint_timeout 60s")
    for repeat in range(repeats):
        # Interleaved: each repeat runs every standby size once.
        for size in STANDBY_SIZES:
            print(repeat + 1, run_once(version, burst_mb, size), flush=True)


if __name__ == "__main__":
    main()
