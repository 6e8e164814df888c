"""16 clients for 60 s calling the SQL API, some applying analyze(), while
pgbench writes and the worker resizes: no unexpected error, a config file
that parses, and a history that ends where max_wal_size is. The worker's
clock is held and moved an interval on every CLOCK_STEP_SECS seconds, so its
cycles (and their writes) race the clients' a dozen times and more, not the
twice that 60 s of real 30 s intervals would give."""

import subprocess
import threading
import time

import psycopg

from conftest import ADVANCE_CLOCK, HELD_CLOCK, cluster_with_extension, max_wal_size_mb, wait_for

SECONDS = 60
CLOCK_STEP_SECS = 2
MONITOR_CALLS = [
    "SELECT walrus.status()",
    "SELECT walrus.recommendation()",
    "SELECT count(*) FROM walrus.history()",
    "SELECT walrus.metrics_prometheus()",
    "SELECT * FROM walrus.recommendations()",
    "SELECT walrus.analyze()",
]
APPLY_CALL = "SELECT walrus.analyze(apply := true)"


def client(cluster, user, calls, stop, counts, errors):
    with psycopg.connect(cluster.dsn(user=user), autocommit=True) as conn:
        i = 0
        while not stop.is_set():
            call = calls[i % len(calls)]
            i += 1
            try:
                conn.execute(call).fetchall()
                counts[call] = counts.get(call, 0) + 1
            except psycopg.Error as error:
                errors.append(f"{call}: {error.sqlstate} {error}")


def move_clock(cluster, stop, cycles, errors):
    """Moves the worker's clock one interval on every CLOCK_STEP_SECS until
    `stop`; each call returns once the worker has finished that cycle. No
    wait for the checkpoint counts to settle: pgbench never lets them, and
    this test asserts no count."""
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(ADVANCE_CLOCK)
        while not stop.wait(CLOCK_STEP_SECS):
            try:
                cycles.append(conn.execute("SELECT public.walrus_test_advance_clock(30)").fetchone()[0]["cycles"])
            except psycopg.Error as error:
                errors.append(f"advance_clock: {error.sqlstate} {error}")


def test_sixteen_clients_while_the_worker_resizes(make_cluster):
    cluster = cluster_with_extension(
        make_cluster, **{"walrus.cooldown_sec": "0", "walrus.max_changes_per_hour": "1000"}, **HELD_CLOCK
    )
    cluster.sql("CREATE ROLE monitor LOGIN")
    pgbench = str(cluster.bindir / "pgbench")
    conn_args = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
    subprocess.run([pgbench, "-i", "-s", "10", "-q", *conn_args, "postgres"], check=True, capture_output=True)
    # pgbench writes for as long as the clients call (stopped with them).
    load = subprocess.Popen(
        [pgbench, "-c", "2", "-j", "1", "-T", str(6 * SECONDS), *conn_args, "postgres"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    stop, errors, threads, all_counts = threading.Event(), [], [], []
    for n in range(16):
        counts = {}
        all_counts.append(counts)
        # Four superusers also apply; the rest watch as an unprivileged role.
        user, calls = ("postgres", MONITOR_CALLS + [APPLY_CALL]) if n < 4 else ("monitor", MONITOR_CALLS)
        threads.append(threading.Thread(target=client, args=(cluster, user, calls, stop, counts, errors)))
    cycles = []
    threads.append(threading.Thread(target=move_clock, args=(cluster, stop, cycles, errors)))
    began = time.monotonic()
    for t in threads:
        t.start()
    # SECONDS at least, and on until 1000 calls have run: a count of
    # concurrent calls is what this test needs, not a speed (that is
    # scripts/bench_status.sh's), and the CI machine may be crowded.
    time.sleep(SECONDS)
    while sum(sum(c.values()) for c in all_counts) <= 1000 and time.monotonic() - began < 5 * SECONDS:
        time.sleep(1)
    stop.set()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a client or the clock hung"
    elapsed = time.monotonic() - began
    assert load.poll() is None, "pgbench wrote all along"
    load.terminate()
    load.wait(30)

    total = sum(sum(c.values()) for c in all_counts)
    applies = sum(c.get(APPLY_CALL, 0) for c in all_counts)
    print(
        f"\n16 clients, {elapsed:.0f} s: {total} calls ({total / elapsed:.0f}/s), {applies} analyze(apply) calls, "
        f"{len(errors)} errors, {sum(cycles)} worker cycles"
    )
    for call in MONITOR_CALLS + [APPLY_CALL]:
        n = sum(c.get(call, 0) for c in all_counts)
        print(f"  {n / elapsed:8.1f}/s  {call}")
    assert errors == [], errors[:5]
    assert total > 1000
    assert cycles and all(n == 1 for n in cycles), cycles
    # More cycles than real intervals would have brought (two), however
    # slowly a crowded machine runs them.
    assert len(cycles) >= 5, cycles

    # The configuration file parses, and history ends where max_wal_size is.
    assert cluster.sql("SELECT sourcefile, error FROM pg_file_settings WHERE error IS NOT NULL") == []

    def last_applied():
        last = cluster.sql(
            "SELECT new_size_mb FROM walrus.history WHERE metadata ? 'config_generation' "
            "ORDER BY (metadata->>'config_generation')::bigint DESC LIMIT 1"
        )
        assert last, "something was applied"
        return last[0][0]

    # The clock no longer moves: the worker applies nothing more; the last
    # applied size is in force once the server has reloaded.
    wait_for(lambda: max_wal_size_mb(cluster) == last_applied(), 30, "the last applied size to be in force")
    generations = [
        r[0]
        for r in cluster.sql(
            "SELECT (metadata->>'config_generation')::bigint FROM walrus.history "
            "WHERE metadata ? 'config_generation' ORDER BY 1"
        )
    ]
    assert generations == list(range(1, len(generations) + 1)), "every write recorded exactly once"
