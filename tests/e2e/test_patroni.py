"""Patroni clusters (docs/ha.md): with `walrus.apply_via = patroni` the
primary's worker sends each size to Patroni (`PATCH /config`), Patroni
writes it into every member's postgresql.conf and reloads it, and no
node's postgresql.auto.conf shadows it; a failover hands the load to a node
that already runs with it. Real etcd, real Patroni, real PostgreSQL with
pg_walrus preloaded through Patroni's configuration, a real pgbench load,
all on loopback (tests/e2e/patroni_cluster.py).

The control runs the same cluster under `alter_system`: there pg_walrus's
local line shadows the cluster's configuration, which is what makes
`patroni` necessary.
"""

import contextlib
import re
import subprocess
import time

import pytest

from conftest import BASELINE, RESIZED
from patroni_cluster import PatroniCluster, wait_until
from pgcluster import pg_bindir

# Tier 2 (scripts/test.sh): real time is what these prove, on the release build.
pytestmark = pytest.mark.realtime

SETTINGS = {
    "shared_preload_libraries": "pg_walrus",
    "walrus.apply_via": "patroni",
    "checkpoint_timeout": "30s",
    "max_wal_size": "32MB",
    "min_wal_size": "32MB",
    "shared_buffers": "32MB",
    "log_checkpoints": "on",
    "log_min_messages": "debug1",
    "fsync": "off",
    # The disk these clusters run on is the test machine's, shared by the
    # whole suite: the guard is tested in test_disk.py.
    "walrus.max_wal_disk_fraction": "0",
    "walrus.early_reaction": "off",
    # As in conftest.py: these tests assert the cycle's decisions, and
    # test_pace_growth.py covers pace-based growth.
    "walrus.pace_growth": "off",
    # Grow until the load is absorbed: an interval without a forced
    # checkpoint says the size is enough.
    "walrus.cooldown_sec": "0",
    "walrus.max_changes_per_hour": "100",
}

# The failover tests grow the leader until pgbench's load is absorbed. At
# threshold 2 a size the load fills to the edge takes one forced checkpoint
# in some intervals (a starved pgbench catching up on its -R schedule) and
# never grows past it, so "two quiet intervals" may never come (a first run
# on a fresh machine waited 400 s for them). At 1, every forced checkpoint
# grows the size until the load, bursts and all, is absorbed.
GROW_SETTINGS = {**SETTINGS, "walrus.threshold": "1"}

INTERVAL = r"pg_walrus: (?:detected )?(\d+) forced checkpoints over (\d+) seconds"
CHECKPOINT_STARTING = re.compile(r"LOG:  checkpoint starting:([a-z -]*)(?=\n)")
PROMOTE_REQUEST = r"LOG:  received promote request"
PATCH_FAILED = (
    r"WARNING:  pg_walrus: could not set max_wal_size to (\d+) MB through Patroni, will retry next cycle: "
    r"PATCH http://127\.0\.0\.1:\d+/config: (.*)"
)
# pgbench's throttled rate (transactions per second) for the steady load:
# a few MB of WAL per second, the same before and after the failover.
PGBENCH_TPS = 150
# Two of the promoted node's intervals, and a few seconds.
AFTER_PROMOTION_SECS = 65


@contextlib.contextmanager
def pgbench(member, seconds: int = 900):
    """A throttled TPC-B load on `member` until the block ends (or the
    server dies)."""
    process = subprocess.Popen(
        [
            str(pg_bindir(member.cluster.version) / "pgbench"),
            *("-h", "127.0.0.1", "-p", str(member.port), "-U", "postgres"),
            *("-n", "-c", "2", "-j", "1", "-R", str(PGBENCH_TPS), "-T", str(seconds), "postgres"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def pgbench_init(member, scale: int = 10) -> None:
    subprocess.run(
        [
            str(pg_bindir(member.cluster.version) / "pgbench"),
            *("-h", "127.0.0.1", "-p", str(member.port), "-U", "postgres"),
            *("-i", "-q", "-s", str(scale), "postgres"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )


def wal_checkpoints_after(member, start: int) -> list[str]:
    return [m.group(0) for m in CHECKPOINT_STARTING.finditer(member.log(), start) if "wal" in m.group(1).split()]


def grow_until_quiet(leader, start: int, timeout: float = 400) -> int:
    """Waits until the worker has grown max_wal_size and two intervals in a
    row after its last resize had no forced checkpoint (one alone can be a
    moment the loaded test machine starved pgbench); returns that size."""

    def quiet_after_last_resize():
        log = leader.log()
        resizes = list(re.finditer(RESIZED, log[start:]))
        if not resizes:
            return None
        after = start + resizes[-1].end()
        verdicts = [m.group(1) for m in re.finditer(INTERVAL, log[after:])]
        return verdicts[:2] == ["0", "0"] and int(resizes[-1].group(2))

    return wait_until(quiet_after_last_resize, timeout, "growth, then an interval without a forced checkpoint")


def fail_over(cluster) -> dict:
    """Grows the leader under pgbench, kills it (Patroni and postmaster),
    and runs the same load on the member Patroni promotes for two
    intervals. Returns what each step saw."""
    leader = cluster.leader()
    replica = cluster.replicas()[0]
    leader.sql("CREATE EXTENSION pg_walrus")
    leader.wait_for_log(BASELINE, 60)
    start = leader.log_offset()
    seen = {}
    pgbench_init(leader)
    with pgbench(leader):
        seen["grown_mb"] = grown = grow_until_quiet(leader, start)
        # Patroni's loop (2 s here) brings every member to the cluster's value.
        seen["config"] = cluster.config_max_wal_size()
        seen["leader"] = leader.max_wal_size()
        seen["replica_before"] = (
            wait_until(
                lambda: (size := replica.max_wal_size())[0] == grown and size,
                30,
                f"the replica to run at {grown} MB",
            )
            if cluster.parameters["walrus.apply_via"] == "patroni"
            else replica.max_wal_size()
        )
        seen["leader_auto_conf"] = leader.auto_conf()
        seen["replica_auto_conf"] = replica.auto_conf()
        seen["history"] = leader.sql(
            "SELECT action, new_size_mb, metadata->>'apply_via', metadata->'patroni'->>'status' "
            "FROM walrus.history ORDER BY id"
        )
        leader.kill()
    started = time.monotonic()
    replica_start = replica.log_offset()
    wait_until(replica.is_primary, 120, "Patroni to promote the replica")
    seen["failover_secs"] = round(time.monotonic() - started)
    request = replica.wait_for_log(PROMOTE_REQUEST, 10, after=replica_start)
    promotion_checkpoint = wait_until(
        lambda: CHECKPOINT_STARTING.search(replica.log(), request.end()), 30, "the promotion's checkpoint"
    )
    seen["promoted"] = replica.max_wal_size()
    with pgbench(replica, AFTER_PROMOTION_SECS) as load:
        load.wait(AFTER_PROMOTION_SECS + 60)
    seen["pgbench_rc"] = load.returncode
    seen["wal_checkpoints"] = wal_checkpoints_after(replica, promotion_checkpoint.end())
    print(f"pg{cluster.version} {cluster.parameters['walrus.apply_via']}: {seen}")
    return seen


def test_sizes_go_through_patroni_and_survive_a_failover(pg_version):
    with PatroniCluster(pg_version, GROW_SETTINGS) as cluster:
        seen = fail_over(cluster)
        grown = seen["grown_mb"]
        assert grown > 32, seen
        # The cluster's configuration holds the size, and every member runs
        # with it from Patroni's postgresql.conf, not a local line.
        assert seen["config"] == f"{grown}MB", seen
        for key in ("leader", "replica_before"):
            size, sourcefile = seen[key]
            assert size == grown, seen
            assert sourcefile.endswith("/data/postgresql.conf"), seen
        for key in ("leader_auto_conf", "replica_auto_conf"):
            assert "max_wal_size" not in seen[key], seen
        increases = [row for row in seen["history"] if row[0] == "increase"]
        assert increases and all(row[2:] == ("patroni", "200") for row in increases), seen["history"]
        assert increases[-1][1] == grown, seen["history"]
        # The failover: the new leader already runs with the size, and the
        # same load starts no checkpoint for WAL there.
        assert seen["promoted"][0] == grown, seen
        assert seen["pgbench_rc"] == 0, seen
        assert seen["wal_checkpoints"] == [], seen


def test_under_alter_system_the_local_line_shadows_patroni(pg_version):
    # The negative control: the same cluster and load with today's
    # default. pg_walrus grows the leader with ALTER SYSTEM, and Patroni's
    # configuration never hears of it: GET /config and SHOW disagree.
    with PatroniCluster(pg_version, {**GROW_SETTINGS, "walrus.apply_via": "alter_system"}) as cluster:
        seen = fail_over(cluster)
        grown = seen["grown_mb"]
        assert grown > 32, seen
        assert seen["config"] == "32MB", seen
        size, sourcefile = seen["leader"]
        assert size == grown and sourcefile.endswith("/postgresql.auto.conf"), seen
        assert f"max_wal_size = '{grown}'" in seen["leader_auto_conf"], seen


def test_a_refusing_or_stopped_patroni_fails_the_change_and_it_is_retried(pg_version):
    # The credentials file holds a wrong password: Patroni answers 401.
    with PatroniCluster(pg_version, SETTINGS, members=1, auth_password="not-the-password") as cluster:
        member = cluster.members[0]
        member.sql("CREATE EXTENSION pg_walrus")
        member.wait_for_log(BASELINE, 60)
        start = member.log_offset()
        failed = "SELECT new_size_mb, metadata->>'error' FROM walrus.history WHERE action = 'failed' ORDER BY id"
        # pgbench's initialisation is the burst: it forces checkpoints at 32 MB.
        pgbench_init(member)
        refused = member.wait_for_log(PATCH_FAILED, 150, after=start)
        assert "Patroni refused the request (HTTP 401)" in refused.group(2), refused.group(0)
        rows = wait_until(lambda: member.sql(failed), 10, "the failed row")
        assert "HTTP 401" in rows[0][1], rows
        # Nothing changed anywhere.
        assert cluster.config_max_wal_size() == "32MB"
        assert member.max_wal_size()[0] == 32
        assert "max_wal_size" not in member.auto_conf()
        # Patroni goes away (its PostgreSQL keeps running): the next
        # cycle retries, and fails again, saying why.
        member.kill_patroni()
        gone = member.wait_for_log(PATCH_FAILED, 90, after=member.log_offset())
        assert "Patroni's REST API is unreachable: could not connect" in gone.group(2), gone.group(0)
        rows = wait_until(lambda: len(rows := member.sql(failed)) >= 2 and rows, 10, "the second failed row")
        assert "unreachable" in rows[-1][1], rows
        assert member.max_wal_size()[0] == 32
        status = member.one("SELECT walrus.status()->'patroni'")
        assert status["last_outcome"] == "failed" and status["failures"] >= 2, status
        # The password is in no log line, history row or status.
        history = str(member.sql("SELECT * FROM walrus.history"))
        for text in (member.log(), history, str(status)):
            assert cluster.api_password not in text and "not-the-password" not in text


def test_local_lines_give_way_to_the_cluster_value(pg_version):
    # Left over from alter_system days: each node has its own line. The
    # replica drops its line; the primary first makes the larger size it
    # runs with the cluster's value, then drops its line too.
    with PatroniCluster(pg_version, SETTINGS) as cluster:
        leader, replica = cluster.leader(), cluster.replicas()[0]
        leader_start, replica_start = leader.log_offset(), replica.log_offset()
        for member, size in ((leader, "512MB"), (replica, "48MB")):
            member.sql(f"ALTER SYSTEM SET max_wal_size = '{size}'")
            member.sql("SELECT pg_reload_conf()")
        replica.wait_for_log(
            # 32 MB, or 512 MB if the primary's adoption came first.
            r"LOG:  pg_walrus: removed max_wal_size = 48 MB from this node's postgresql.auto.conf: "
            r"the cluster's value of (32|512) MB \(walrus.apply_via = patroni\) is in force",
            60,
            after=replica_start,
        )
        leader.wait_for_log(
            r"LOG:  pg_walrus: setting the cluster's max_wal_size to 512 MB through Patroni: this primary runs "
            r"with max_wal_size = 512 MB from postgresql.auto.conf, above the cluster's 32 MB",
            60,
            after=leader_start,
        )
        leader.wait_for_log(
            r"LOG:  pg_walrus: removed max_wal_size = 512 MB from this node's postgresql.auto.conf: "
            r"the cluster's value of 512 MB",
            60,
            after=leader_start,
        )
        assert cluster.config_max_wal_size() == "512MB"
        for member in (leader, replica):
            size, sourcefile = wait_until(
                lambda m=member: (s := m.max_wal_size())[0] == 512 and s, 30, f"{member.name} at 512 MB"
            )
            assert sourcefile.endswith("/data/postgresql.conf"), sourcefile
            assert "max_wal_size" not in member.auto_conf()
