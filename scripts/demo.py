"""Drives pgbench against a throwaway cluster and narrates what pg_walrus does.

Run through scripts/demo.sh, which installs everything first.
"""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgcluster import Cluster

VERSION = sys.argv[1] if len(sys.argv) > 1 else "15"
LOAD_SECONDS = int(os.environ.get("WALRUS_DEMO_SECONDS", "180"))
INTERVAL = 30
START_SIZE_MB = 64


def main() -> int:
    settings = {
        "checkpoint_timeout": f"'{INTERVAL}s'",
        "max_wal_size": f"'{START_SIZE_MB}MB'",
        "min_wal_size": "'32MB'",
        "log_min_messages": "debug1",
    }
    cluster = Cluster(VERSION, settings, name="walrus-demo")
    # Ctrl-C or a kill still removes the cluster.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        cluster.start()
        print(f"PostgreSQL {VERSION} on port {cluster.port}, data in {cluster.datadir}")
        print(
            f"checkpoint_timeout = {INTERVAL}s, max_wal_size = {cluster.setting('max_wal_size')}, "
            f"walrus.threshold = {cluster.setting('walrus.threshold')}, walrus.max = {cluster.setting('walrus.max')}"
        )
        cluster.sql("CREATE EXTENSION pg_walrus")
        cluster.wait_for_log(r"pg_walrus: baseline taken", 30)
        pgbench = str(cluster.bindir / "pgbench")
        conn = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
        # pgbench's initialisation is already a WAL burst: with early reaction
        # pg_walrus resizes within seconds of it, so what it says is read from
        # here on.
        before = cluster.setting("max_wal_size")
        log_start = cluster.log_offset()
        print("initialising pgbench (scale 20) ...")
        subprocess.run([pgbench, "-i", "-s", "20", "-q", *conn, "postgres"], check=True, capture_output=True)
        cluster.one("CHECKPOINT")
        print(f"max_wal_size after the initialisation: {cluster.setting('max_wal_size')}")
        print(f"running pgbench TPC-B for {LOAD_SECONDS}s with 4 clients; sampling every {INTERVAL}s\n")
        load = subprocess.Popen(
            [pgbench, "-c", "4", "-j", "2", "-T", str(LOAD_SECONDS), *conn, "postgres"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        print(f"{'time':>6}  {'forced ckpts':>12}  {'timed ckpts':>11}  {'WAL MB':>7}  max_wal_size")
        requested, timed, lsn = counters(cluster)
        began = time.monotonic()
        while load.poll() is None:
            time.sleep(min(INTERVAL, max(1, LOAD_SECONDS - (time.monotonic() - began))))
            r, t, w = counters(cluster)
            print(
                f"{time.monotonic() - began:5.0f}s  {r - requested:>12}  {t - timed:>11}  "
                f"{(w - lsn) / 1048576:>7.0f}  {cluster.setting('max_wal_size')}"
            )
            requested, timed, lsn = r, t, w
        tps = re.search(r"tps = ([\d.]+)", load.stdout.read() or "")
        print(f"\npgbench: {tps.group(1) if tps else '?'} TPS")
        print(f"max_wal_size: {before} before, {cluster.setting('max_wal_size')} after\n")
        print("pg_walrus said:")
        for line in cluster.log()[log_start:].splitlines():
            if "pg_walrus" in line and any(word in line for word in ("resizing", "detected", "reacting", "WARNING")):
                print("  " + line.split(": ", 1)[-1])
        print("\nSELECT * FROM walrus.history():")
        for ts, action, old, new, forced, reason in cluster.sql("SELECT * FROM walrus.history()"):
            print(f"  {ts:%H:%M:%S}  {action:<9} {old:>6} MB -> {new:>6} MB  {forced:>3} forced  {reason}")
        print("\nSELECT * FROM walrus.recommendations():  (what each strategy would do now)")
        for strategy, active, current, recommended, action, reason, confidence in cluster.sql(
            "SELECT * FROM walrus.recommendations()"
        ):
            mark = "*" if active else " "
            print(
                f"  {mark}{strategy:<15} {action:<9} {current:>6} -> {recommended:>6} MB  "
                f"confidence {confidence:>3}  {reason}"
            )
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; removing the cluster")
        return 130
    finally:
        cluster.close()


def counters(cluster):
    requested = cluster.requested_checkpoints()
    timed_sql = (
        "SELECT num_timed FROM pg_stat_checkpointer"
        if int(VERSION) >= 17
        else "SELECT checkpoints_timed FROM pg_stat_bgwriter"
    )
    lsn = cluster.one("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
    return requested, cluster.one(timed_sql), int(lsn)


if __name__ == "__main__":
    sys.exit(main())
