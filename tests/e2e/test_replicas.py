"""High availability (docs/ha.md): a real primary and streaming standby on
loopback. The primary publishes the max_wal_size it runs with in
walrus.primary_size; the worker on the standby runs at that size, within its
own WAL disk, decides nothing of its own and writes no row; a promoted
standby takes the load at the size the old primary had.

Every test runs both nodes with log_checkpoints on and a 30 s
checkpoint_timeout (the worker's interval), and the WAL disk guard off
unless the test is about the disk. A standby is a base backup: it starts
with the primary's postgresql.conf (and postgresql.auto.conf), and the
settings given here are appended after them.
"""

import contextlib
import re
import time
from dataclasses import dataclass

import psycopg
import pytest

from conftest import (
    RESIZED,
    WORKER_TEST_SETTINGS,
    cluster_with_extension,
    log_time,
    max_wal_size_mb,
    wait_for,
)
from pgcluster import Cluster
from test_disk import WalLoad, status_mb

# Tier 2 (scripts/test.sh): real time is what these prove, on the release build.
pytestmark = pytest.mark.realtime

GUARD_OFF = {"walrus.max_wal_disk_fraction": "0"}
# pgcluster turns log_checkpoints on for every cluster; these tests read the
# checkpoint lines, so they say so.
REPLICA_SETTINGS = {**GUARD_OFF, "log_checkpoints": "on"}

FOLLOWING = r"pg_walrus: standby: following the max_wal_size the primary publishes \(walrus\.standby_mirror\)"
NOT_FOLLOWING = r"pg_walrus: standby: walrus\.standby_mirror is off; the size is caught up at promotion"
PUBLISHED = r"LOG:  pg_walrus: published max_wal_size of (\d+) MB for standbys"
FOLLOWED = (
    r"LOG:  pg_walrus: resizing max_wal_size from (\d+) MB to (\d+) MB \(following the primary's size: (\d+) MB\)"
)
FOLLOWED_TO_CEILING = (
    r"LOG:  pg_walrus: resizing max_wal_size from (\d+) MB to (\d+) MB \(following the primary's size: (\d+) MB, "
    r"capped at this node's WAL disk ceiling \((\d+) MB\)\)"
)
BELOW_PRIMARY = (
    r"WARNING:  pg_walrus: this node's WAL disk allows (\d+) MB, below the primary's max_wal_size of (\d+) MB; "
    r"following it only that far"
)
PROMOTED = r"LOG:  pg_walrus: promoted: taking the former primary's max_wal_size, then sizing as a primary"
CAUGHT_UP_ON_PROMOTION = (
    r"LOG:  pg_walrus: resizing max_wal_size from (\d+) MB to (\d+) MB "
    r"\(following the former primary's size, on promotion: (\d+) MB\)"
)
# A cycle's verdict on its interval, loud ("detected N ...", at or above
# walrus.threshold) or quiet (a DEBUG1 line without "detected").
INTERVAL = r"pg_walrus: (?:detected )?(\d+) forced checkpoints over (\d+) seconds"
PROMOTE_REQUEST = r"LOG:  received promote request"
# LogCheckpointStart in xlog.c: the flags, each with a leading space. On 15
# and 17 alike, pg_promote()'s checkpoint is requested with CHECKPOINT_FORCE
# alone ("force"); one requested because WAL passed the max_wal_size
# distance carries CHECKPOINT_CAUSE_XLOG ("wal"), also when the request was
# merged into another.
# Whole lines only (a line being written may be half in the file).
CHECKPOINT_STARTING = re.compile(r"LOG:  checkpoint starting:([a-z -]*)(?=\n)")
RESTARTPOINT_FOR_WAL = r"LOG:  restartpoint starting:[a-z -]* wal\b"
# The promotion's own checkpoint: "force". When the load resumed fast enough
# that WAL since the standby's last restartpoint already passed the trigger
# distance at promotion, that request is merged into the same checkpoint
# ("force wal", seen on 15); when checkpoint_timeout had also run out since
# the standby's last restartpoint, the time cause joins it ("force time",
# seen in CI on 15; LogCheckpointStart prints the flags in this order). Still
# the promotion's one checkpoint, and the WAL-triggered checkpoints counted
# are those that start after it.
PROMOTION_CHECKPOINT = re.compile(r"LOG:  checkpoint starting: force( wal)?( time)?")

# The standby looks at the record every 10 s: it follows within two looks.
FOLLOW_WITHIN_SECS = 20


@contextlib.contextmanager
def streaming_standby(primary, pg_version, settings=None, preload=True, wal_fs_mb=None):
    """A started, streaming standby of `primary`, closed on the way out
    whatever happens."""
    standby = Cluster(
        pg_version,
        {**WORKER_TEST_SETTINGS, **REPLICA_SETTINGS, **(settings or {})},
        preload=preload,
        name="walrus-standby",
        standby_of=primary,
        wal_fs_mb=wal_fs_mb,
    )
    try:
        standby.start()
        wait_for(lambda: standby.one("SELECT pg_is_in_recovery()") is True, 30, "recovery")
        yield standby
    finally:
        standby.close()


def wait_for_replay(primary, standby, timeout=60):
    """Waits until the standby has replayed everything the primary has
    written so far."""
    lsn = primary.one("SELECT pg_current_wal_lsn()::text")
    wait_for(
        lambda: standby.one("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)),
        timeout,
        f"the standby to replay up to {lsn}",
    )


def auto_conf_size(cluster) -> str | None:
    """max_wal_size as postgresql.auto.conf holds it, or None."""
    match = re.search(r"^max_wal_size = '(\d+)'$", cluster.auto_conf(), re.MULTILINE)
    return match and match.group(1)


def wal_checkpoints_after(cluster, start: int) -> list[str]:
    """The checkpoint lines after `start` that WAL volume requested."""
    return [m.group(0) for m in CHECKPOINT_STARTING.finditer(cluster.log(), start) if "wal" in m.group(1).split()]


def test_a_standby_follows_the_size_the_primary_publishes(make_cluster, pg_version):
    primary = cluster_with_extension(make_cluster, **REPLICA_SETTINGS)
    with streaming_standby(primary, pg_version) as standby:
        standby.wait_for_log(FOLLOWING, 60)
        status = standby.one("SELECT walrus.status()")
        assert status["in_recovery"] is True and status["standby_mirror"] is True, status
        assert status["worker_running"] is True and standby.worker_pid(), "the worker runs on the standby"
        primary_start, standby_start = primary.log_offset(), standby.log_offset()

        # The standard burst (test_worker_grows.py): forced checkpoints on the
        # primary, one growth (the 300 s cooldown holds any second one).
        primary.generate_wal(160)
        resized = primary.wait_for_log(RESIZED, 90, after=primary_start)
        size = int(resized.group(2))
        assert size > 32, resized.group(0)
        published = primary.wait_for_log(
            rf"LOG:  pg_walrus: published max_wal_size of {size} MB", 10, after=primary_start
        )

        followed = standby.wait_for_log(FOLLOWED, FOLLOW_WITHIN_SECS + 20, after=standby_start)
        assert tuple(int(g) for g in followed.groups()) == (32, size, size), followed.group(0)
        lag = (log_time(standby, followed) - log_time(primary, published)).total_seconds()
        assert lag <= FOLLOW_WITHIN_SECS, f"followed {lag:.1f} s after the primary published"
        wait_for(lambda: max_wal_size_mb(standby) == size, 10, f"the standby's max_wal_size at {size} MB")
        assert standby.one("SHOW max_wal_size") == primary.one("SHOW max_wal_size")
        assert auto_conf_size(standby) == auto_conf_size(primary) == str(size), standby.auto_conf()
        status = standby.one("SELECT walrus.status()")
        assert status["primary_size_mb"] == size and status["mirrored_at"] is not None, status
        print(f"pg{pg_version}: the standby followed the primary to {size} MB {lag:.1f} s after it published")

        # No decision of its own: no interval judged, no baseline, one resize.
        standby_log = standby.log()
        judged = [m.group(0) for m in re.finditer(INTERVAL, standby_log)]
        assert not judged, judged
        assert "pg_walrus: baseline taken" not in standby_log
        resizes = re.findall(r"^.*pg_walrus: resizing.*$", standby_log, re.MULTILINE)
        assert len(resizes) == 1, resizes
        assert "read-only transaction" not in standby_log, "the standby tried to write"
        # And no row: the standby's walrus.history is the primary's table,
        # replayed, row for row; the mirror decision is in none of them.
        wait_for_replay(primary, standby)
        rows = "SELECT id, action, old_size_mb, new_size_mb FROM walrus.history ORDER BY id"
        on_primary = primary.sql(rows)
        assert size in [new for _, _, _, new in on_primary], on_primary
        assert standby.sql(rows) == on_primary
        assert primary.one("SELECT count(*) FROM walrus.history WHERE metadata ? 'mirror'") == 0
        assert standby.one("SELECT size_mb FROM walrus.primary_size") == size


def test_restartpoints_forced_on_a_standby_grow_nothing_there(make_cluster, pg_version):
    # The primary stays at 32 MB (walrus.enable off): a checkpoint record
    # every segment or so, so the standby can start a restartpoint whenever
    # its own 32 MB asks for one. The standby does not follow the primary
    # (walrus.standby_mirror off) and, being a base backup, is told to keep
    # walrus.enable on: anything that grows there would be its own decision.
    primary = cluster_with_extension(make_cluster, **REPLICA_SETTINGS, **{"walrus.enable": "off"})
    standby_settings = {"walrus.standby_mirror": "off", "walrus.enable": "on"}
    with streaming_standby(primary, pg_version, standby_settings) as standby:
        standby.wait_for_log(NOT_FOLLOWING, 60)
        assert standby.setting("walrus.enable") == "on"
        pid = standby.worker_pid()
        assert pid, "the worker runs on the standby"
        # PostgreSQL 15/16 count a standby's restartpoint requests as
        # requested checkpoints: what would fool a worker sizing from them.
        requested = (
            "SELECT restartpoints_req FROM pg_stat_checkpointer"
            if int(pg_version) >= 17
            else "SELECT checkpoints_req FROM pg_stat_bgwriter"
        )
        requested_before = standby.one(requested)
        start = standby.log_offset()
        sizes = []
        began = time.monotonic()
        with WalLoad(primary, mb_per_s=4) as load:
            while time.monotonic() - began < 45:
                sizes.append(max_wal_size_mb(standby))
                time.sleep(1)
        assert load.error is None, load.error
        assert load.written_mb >= 45 * 4 * 0.7, f"the load only wrote {load.written_mb} MB"
        wait_for_replay(primary, standby)
        # One more of the standby's 10 s looks after the last WAL.
        time.sleep(12)
        sizes.append(max_wal_size_mb(standby))

        log = standby.log()[start:]
        restartpoints = len(re.findall(RESTARTPOINT_FOR_WAL, log))
        requested_after = standby.one(requested)
        print(
            f"pg{pg_version}: {load.written_mb} MB replayed over {time.monotonic() - began:.0f} s: "
            f"{restartpoints} WAL-requested restartpoints, requested counter {requested_before} -> {requested_after}"
        )
        assert restartpoints >= 2, "the replay did not force restartpoints: the test proves nothing"
        assert requested_after - requested_before >= 2, (requested_before, requested_after)
        assert set(sizes) == {32}, f"the standby's max_wal_size moved: {sorted(set(sizes))}"
        assert not re.search(RESIZED, standby.log()), "a resize on the standby"
        assert not re.search(INTERVAL, standby.log()), "the standby judged an interval of its own"
        assert auto_conf_size(standby) is None, standby.auto_conf()
        assert standby.worker_pid() == pid, "the same worker all along"


@dataclass
class Failover:
    primary_mb: int  # what the primary grew to and published
    standby_mb: int  # the standby's max_wal_size when the primary went down
    promoted_mb: int  # the promoted node's max_wal_size once the load starts there
    promotion_checkpoint: str  # the line of the checkpoint pg_promote() requested
    wal_checkpoints: list[str]  # WAL-requested checkpoints after it, under the load
    load_mb: int  # what the load wrote on the promoted node


# The load a grown primary absorbs: after the growth, an interval with it
# and no forced checkpoint at all. At 32 MB, every segment asks for a
# checkpoint.
LIGHT_MB_PER_S = 1
# Two of the promoted node's intervals, and a few seconds.
AFTER_PROMOTION_SECS = 65


def fail_over(make_cluster, pg_version, standby_settings, *, preload: bool) -> Failover:
    """The primary grows under a burst and then runs a light steady load
    through an interval without a forced checkpoint; once the standby has
    replayed it all (and followed, if it does), the primary dies (-m
    immediate), the standby is promoted, and the same light load runs there
    for two intervals."""
    # No cooldown: the primary grows until the load is absorbed, and an
    # interval with no forced checkpoint says the size it ends at is enough.
    primary = cluster_with_extension(
        make_cluster, **REPLICA_SETTINGS, **{"walrus.cooldown_sec": "0", "walrus.max_changes_per_hour": "100"}
    )
    with streaming_standby(primary, pg_version, standby_settings, preload=preload) as standby:
        if preload:
            standby.wait_for_log(FOLLOWING, 60)
        primary_start = primary.log_offset()

        def quiet_after_last_resize():
            log = primary.log()
            resizes = list(re.finditer(RESIZED, log[primary_start:]))
            if not resizes:
                return None
            after = primary_start + resizes[-1].end()
            quiet = next((m for m in re.finditer(INTERVAL, log[after:]) if m.group(1) == "0"), None)
            return quiet and int(resizes[-1].group(2))

        with WalLoad(primary, mb_per_s=LIGHT_MB_PER_S):
            primary.generate_wal(160)
            grown = wait_for(
                quiet_after_last_resize, 200, "growth, then an interval without a forced checkpoint on the primary"
            )
            assert grown > 32
            primary.wait_for_log(rf"LOG:  pg_walrus: published max_wal_size of {grown} MB", 10, after=primary_start)
            assert max_wal_size_mb(primary) == grown
            wait_for_replay(primary, standby)
            if preload:
                wait_for(lambda: max_wal_size_mb(standby) == grown, 30, f"the standby to follow to {grown} MB")
            standby_mb = max_wal_size_mb(standby)
            # The failover: the primary dies under its load.
            primary.stop("immediate")

        start = standby.log_offset()
        assert standby.one("SELECT pg_promote()") is True
        request = standby.wait_for_log(PROMOTE_REQUEST, 10, after=start)
        promotion_checkpoint = wait_for(
            lambda: CHECKPOINT_STARTING.search(standby.log(), request.end()), 30, "the promotion's checkpoint"
        )
        if preload:
            standby.wait_for_log(PROMOTED, 10, after=start)
        promoted_mb = max_wal_size_mb(standby)
        with WalLoad(standby, mb_per_s=LIGHT_MB_PER_S) as promoted_load:
            time.sleep(AFTER_PROMOTION_SECS)
        assert promoted_load.error is None, promoted_load.error
        assert promoted_load.written_mb >= AFTER_PROMOTION_SECS * LIGHT_MB_PER_S * 0.7, promoted_load.written_mb
        return Failover(
            primary_mb=grown,
            standby_mb=standby_mb,
            promoted_mb=promoted_mb,
            promotion_checkpoint=promotion_checkpoint.group(0),
            wal_checkpoints=wal_checkpoints_after(standby, promotion_checkpoint.end()),
            load_mb=promoted_load.written_mb,
        )


def report(pg_version, label, failover: Failover):
    print(
        f"pg{pg_version} {label}: primary at {failover.primary_mb} MB, standby at {failover.standby_mb} MB, "
        f"promoted at {failover.promoted_mb} MB; {len(failover.wal_checkpoints)} WAL-triggered checkpoints "
        f"over {AFTER_PROMOTION_SECS} s ({failover.load_mb} MB) after the promotion's "
        f"{failover.promotion_checkpoint!r}"
    )


def test_a_promoted_standby_takes_the_load_at_the_primary_size(make_cluster, pg_version):
    failover = fail_over(make_cluster, pg_version, {}, preload=True)
    report(pg_version, "with pg_walrus", failover)
    assert PROMOTION_CHECKPOINT.fullmatch(failover.promotion_checkpoint), failover.promotion_checkpoint
    assert failover.standby_mb == failover.promoted_mb == failover.primary_mb, failover
    assert failover.wal_checkpoints == [], failover.wal_checkpoints


def test_without_pg_walrus_on_the_standby_the_promoted_node_checkpoints_for_wal(make_cluster, pg_version):
    # The negative control: the same failover, the standby without the
    # library (the base backup copied the primary's shared_preload_libraries:
    # emptied). It keeps 32 MB, and the same load forces checkpoints there.
    failover = fail_over(make_cluster, pg_version, {"shared_preload_libraries": "''"}, preload=False)
    report(pg_version, "without pg_walrus on the standby", failover)
    assert PROMOTION_CHECKPOINT.fullmatch(failover.promotion_checkpoint), failover.promotion_checkpoint
    assert failover.standby_mb == failover.promoted_mb == 32, failover
    assert len(failover.wal_checkpoints) >= 1, "the load does not force checkpoints at 32 MB: the test proves nothing"


def test_a_standby_follows_only_as_far_as_its_own_disk_allows(make_cluster, pg_version):
    # The primary, guard off, grows by 256 MB per forced checkpoint
    # (additive): past 512 MB on a modest load. The standby has pg_wal on a
    # 200 MB tmpfs and the default fraction (a ceiling of 0.25 x 200 MB, 48 MB
    # in whole segments); walrus.min_size at its 32 MB, as in test_disk.py,
    # so that no warning about min_size joins the one under test. Its
    # replay keeps pg_wal small: restartpoints at its own 32 MB, the
    # primary's checkpoint records every segment until it grows.
    fs_mb = 200
    primary = cluster_with_extension(
        make_cluster,
        **REPLICA_SETTINGS,
        **{"walrus.algorithm": "additive", "walrus.additive_increment": "'256MB'"},
    )
    standby_settings = {"walrus.max_wal_disk_fraction": "0.25", "walrus.min_size": "'32MB'"}
    with streaming_standby(primary, pg_version, standby_settings, wal_fs_mb=fs_mb) as standby:
        standby.wait_for_log(FOLLOWING, 60)
        ceiling = wait_for(lambda: status_mb(standby, "disk_ceiling_mb"), 30, "the standby's first disk measurement")
        assert 32 < ceiling <= fs_mb * 0.25, ceiling
        fs_size = standby.wal_fs_usage().size
        primary_start, standby_start = primary.log_offset(), standby.log_offset()
        with standby.sample_wal() as sampler:
            with WalLoad(primary, mb_per_s=2) as load:
                resized = primary.wait_for_log(RESIZED, 120, after=primary_start)
            assert load.error is None, load.error
            size = int(resized.group(2))
            assert size >= 512, resized.group(0)
            published = primary.wait_for_log(
                rf"LOG:  pg_walrus: published max_wal_size of {size} MB", 10, after=primary_start
            )
            warning = standby.wait_for_log(BELOW_PRIMARY, FOLLOW_WITHIN_SECS + 20, after=standby_start)
            followed = standby.wait_for_log(FOLLOWED_TO_CEILING, 10, after=standby_start)
            wait_for_replay(primary, standby)
        allowed, primary_mb = int(warning.group(1)), int(warning.group(2))
        assert primary_mb == size, warning.group(0)
        # Following only that far does not bound this standby's pg_wal (it
        # keeps the WAL since the primary's last checkpoint): the HINT says so.
        following_lines = standby.log()[warning.end() : warning.end() + 1000]
        assert "HINT:  A standby removes WAL only at restartpoints" in following_lines, following_lines
        assert tuple(int(g) for g in followed.groups()) == (32, allowed, size, allowed), followed.group(0)
        lag = (log_time(standby, followed) - log_time(primary, published)).total_seconds()
        assert lag <= FOLLOW_WITHIN_SECS, f"followed {lag:.1f} s after the primary published"
        ceiling = status_mb(standby, "disk_ceiling_mb")
        assert max_wal_size_mb(standby) == allowed == ceiling, (max_wal_size_mb(standby), allowed, ceiling)
        assert auto_conf_size(standby) == str(allowed), standby.auto_conf()
        status = standby.one("SELECT walrus.status()")
        assert status["primary_size_mb"] == size, status
        # Once per episode: later looks, still short of the primary, say
        # nothing new.
        time.sleep(12)
        assert len(re.findall(BELOW_PRIMARY, standby.log())) == 1
        assert max_wal_size_mb(standby) == allowed
        log = standby.log()
        assert "PANIC" not in log and "No space left on device" not in log, log[-3000:]
        assert sampler.peak_pg_wal < fs_size, f"pg_wal peaked at {sampler.peak_pg_wal} bytes of {fs_size}"
        print(
            f"pg{pg_version}: primary at {size} MB, the standby at its ceiling of {allowed} MB; "
            f"its pg_wal peaked at {sampler.peak_pg_wal / 2**20:.0f} MB of {fs_size / 2**20:.0f} MB"
        )


def test_with_mirroring_off_promotion_catches_up_at_once(make_cluster, pg_version):
    primary = cluster_with_extension(make_cluster, **REPLICA_SETTINGS)
    with streaming_standby(primary, pg_version, {"walrus.standby_mirror": "off"}) as standby:
        standby.wait_for_log(NOT_FOLLOWING, 60)
        assert standby.one("SELECT walrus.status()")["standby_mirror"] is False
        primary_start = primary.log_offset()
        primary.generate_wal(160)
        resized = primary.wait_for_log(RESIZED, 90, after=primary_start)
        size = int(resized.group(2))
        assert size > 32, resized.group(0)
        primary.wait_for_log(rf"LOG:  pg_walrus: published max_wal_size of {size} MB", 10, after=primary_start)
        wait_for_replay(primary, standby)
        assert standby.one("SELECT size_mb FROM walrus.primary_size") == size
        # The record is there, and a look (every 10 s) goes by: not followed.
        time.sleep(12)
        assert max_wal_size_mb(standby) == 32
        assert not re.search(RESIZED, standby.log()) and auto_conf_size(standby) is None

        primary.stop("immediate")
        start = standby.log_offset()
        assert standby.one("SELECT pg_promote()") is True
        request = standby.wait_for_log(PROMOTE_REQUEST, 10, after=start)
        promoted = standby.wait_for_log(PROMOTED, 10, after=start)
        caught_up = standby.wait_for_log(CAUGHT_UP_ON_PROMOTION, 10, after=start)
        assert tuple(int(g) for g in caught_up.groups()) == (32, size, size), caught_up.group(0)
        noticed = (log_time(standby, promoted) - log_time(standby, request)).total_seconds()
        applied = (log_time(standby, caught_up) - log_time(standby, promoted)).total_seconds()
        print(
            f"pg{pg_version}: promoted; the worker noticed {noticed:.2f} s after the request "
            f"and ran at {size} MB {applied:.2f} s later"
        )
        assert noticed <= 5, f"the worker noticed the promotion {noticed:.1f} s after the request"
        assert applied <= 5, f"the size was applied {applied:.1f} s after the promoted: line"
        wait_for(lambda: max_wal_size_mb(standby) == size, 10, f"max_wal_size at {size} MB")
        assert auto_conf_size(standby) == str(size), standby.auto_conf()
        status = standby.one("SELECT walrus.status()")
        assert status["in_recovery"] is False and status["promoted_at"] is not None, status


def test_an_ordinary_role_reads_but_cannot_write_the_published_size(make_cluster, pg_version):
    primary = cluster_with_extension(make_cluster, **REPLICA_SETTINGS)
    record = "SELECT size_mb, set_at FROM walrus.primary_size"
    # The primary publishes at the end of each cycle: if its baseline cycle
    # came before CREATE EXTENSION had committed, the first record comes one
    # interval (30 s) later, and later still on a crowded machine (30 s was
    # once too short in a 3-version run).
    published = wait_for(lambda: primary.sql(record), 75, "the primary's first publication")
    primary.sql("CREATE ROLE r LOGIN")
    with streaming_standby(primary, pg_version) as standby:
        with primary.connect(user="r") as conn:
            assert conn.execute("SELECT size_mb FROM walrus.primary_size").fetchall() == [(32,)]
            for write in [
                "INSERT INTO walrus.primary_size (size_mb) VALUES (4096)",
                (
                    "INSERT INTO walrus.primary_size (singleton, size_mb) VALUES (true, 4096) "
                    "ON CONFLICT (singleton) DO UPDATE SET size_mb = EXCLUDED.size_mb"
                ),
                "UPDATE walrus.primary_size SET size_mb = 4096",
                "DELETE FROM walrus.primary_size",
            ]:
                with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
                    conn.execute(write)
                assert refused.value.sqlstate == "42501", write
        assert primary.sql(record) == published, "the record is untouched"
        wait_for_replay(primary, standby)
        with standby.connect(user="r") as conn:
            assert conn.execute("SELECT size_mb FROM walrus.primary_size").fetchall() == [(32,)]
