"""Early reaction: a storm of forced checkpoints is decided on before the
interval ends, on the evidence so far scaled to a full interval."""

import re
import threading
import time

import pytest

from conftest import BASELINE, DETECTED, RESIZED, log_time, reload_with, restart_worker, wait_for

# Tier 2 (scripts/test.sh): real time is what these prove, on the release build.
pytestmark = pytest.mark.realtime

EARLY = (
    r"pg_walrus: reacting early: (\d+) forced checkpoints in (\d+) of (\d+) seconds, "
    r"judged as (\d+) over the full interval"
)
INSERT_LSN = "SELECT pg_current_wal_insert_lsn()"
HISTORY = "SELECT action, old_size_mb, new_size_mb, forced_checkpoints, metadata FROM walrus.history ORDER BY id"


class SustainedLoad:
    """Writes WAL without pause from another connection until stopped: a
    storm that is still going when the worker looks."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        # One connection for the whole storm: no pause between the inserts.
        with self.cluster.connect() as conn:
            while not self.stop.is_set():
                self.cluster.generate_wal(16, table=LOAD_TABLE, conn=conn)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)


# The suite's harness turns early reaction off; these tests run it at its
# default, on.
EARLY_ON = {"walrus.early_reaction": "on"}


LOAD_TABLE = "walrus_storm"


def baseline_then_load(cluster):
    """Sets up, then restarts the worker so that its interval starts now,
    with the load that follows: the time CREATE EXTENSION takes on a busy
    machine is not taken out of the interval the storm must fit in. Returns
    the new baseline's match and the log offset the load starts at."""
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.sql(f"CREATE TABLE {LOAD_TABLE} (id bigint, payload text)")
    cluster.wait_for_log(BASELINE, 60)
    baseline = restart_worker(cluster)
    return baseline, cluster.log_offset()


def test_a_sustained_storm_is_decided_before_the_interval_ends(make_cluster):
    # The WAL disk guard off: the size is exactly the formula's up to
    # walrus.max, whatever this machine's free disk.
    cluster = make_cluster({**EARLY_ON, "walrus.max_wal_disk_fraction": "0"})
    lsn_before = cluster.one(INSERT_LSN)
    baseline, start = baseline_then_load(cluster)
    with SustainedLoad(cluster):
        early = cluster.wait_for_log(EARLY, 60, after=start)
        # Read while the load goes on: at or past the look that decided.
        wal_written_by_then = cluster.one(f"SELECT pg_wal_lsn_diff(({INSERT_LSN}), %s::pg_lsn)", (lsn_before,))
        resized = cluster.wait_for_log(RESIZED, 30, after=start)
    seen, secs, timeout, judged = (int(g) for g in early.groups())
    assert timeout == 30
    assert 1 <= secs <= 29, f"decided after {secs} s of a 30 s interval: a 1 s look window at least, one left"
    # By the server's log clock too: the decision came before the interval
    # that began at the baseline (and with the load) was over, as long after
    # it as the worker says.
    reacted_after = (log_time(cluster, early) - log_time(cluster, baseline)).total_seconds()
    assert reacted_after < 30 and abs(reacted_after - secs) <= 3, (reacted_after, early.group(0))
    assert seen >= 2, "walrus.threshold"
    # Linear extrapolation of the part seen to the full interval. The log
    # rounds the seconds seen to a whole one, a third of a 1.5 s window: the
    # count must be the extrapolation of a length that rounds to `secs` (and
    # is at least the 1 s window), itself rounded.
    shortest, longest = max(secs - 0.5, 1.0), secs + 0.5
    assert seen * timeout / longest - 1 <= judged <= seen * timeout / shortest + 1, early.group(0)
    # The detected line reports what was really seen, not the extrapolation.
    detected = re.search(DETECTED, cluster.log()[start:])
    assert detected and int(detected.group(1)) == seen
    old, new = int(resized.group(1)), int(resized.group(2))
    assert (old, new) == (32, min(32 * (judged + 1), 4096)), "multiplicative on the extrapolated count"

    rows = wait_for(lambda: cluster.sql(HISTORY), 10, "the history row")
    action, row_old, row_new, forced, metadata = rows[0]
    assert (action, row_old, row_new, forced) == (
        "capped" if new == 4096 and 32 * (judged + 1) > 4096 else "increase",
        old,
        new,
        seen,
    )
    early_meta = metadata["early_reaction"]
    assert early_meta["observed_forced_checkpoints"] == seen
    assert early_meta["extrapolated_forced_checkpoints"] == judged
    assert 1 <= early_meta["observed_sec"] <= 29
    # The WAL really seen, not its extrapolation. At 32 MB a checkpoint is
    # requested at every segment switch; the second one counted in the
    # interval was requested once the first was under way, at least a
    # segment switch later. The first switch can come a byte after the
    # baseline, so one segment is the floor (a CI run saw 31.9 MB for two).
    segment = 16 * 1024 * 1024
    observed_wal = early_meta["observed_wal_bytes"]
    assert segment < observed_wal <= float(wal_written_by_then), (observed_wal, wal_written_by_then)
    assert metadata["interval_sec"] == 30, "the strategy judged a full interval"
    reason = cluster.one("SELECT reason FROM walrus.history ORDER BY id LIMIT 1")
    assert (
        f"(early reaction: {seen} forced checkpoints in the first {secs} s of the interval, scaled to 30 s)" in reason
    )


def test_an_early_cycle_is_always_followed_by_a_full_interval(make_cluster):
    # Dry run with no rate limits: no size changes, so the storm goes on and
    # every cycle's look sees it. Early and full cycles must alternate, never
    # an early cycle per look.
    cluster = make_cluster(
        {**EARLY_ON, "walrus.dry_run": "on", "walrus.cooldown_sec": "0", "walrus.max_changes_per_hour": "1000"}
    )
    _, start = baseline_then_load(cluster)
    with SustainedLoad(cluster):
        first = cluster.wait_for_log(EARLY, 60, after=start)
        full = cluster.wait_for_log(DETECTED, 60, after=first.end())
        again = cluster.wait_for_log(EARLY, 60, after=full.end())
    assert int(full.group(2)) >= 29, f"the cycle after an early one waits the full interval: {full.group(0)}"
    assert again.start() > full.end()
    assert len(re.findall(EARLY, cluster.log()[first.start() : again.end()])) == 2
    rows = wait_for(lambda: len(cluster.sql(HISTORY)) >= 3 and cluster.sql(HISTORY), 10, "three history rows")
    assert [r[0] for r in rows][:3] == ["dry_run"] * 3, rows
    assert "early_reaction" in rows[0][4] and "early_reaction" not in rows[1][4]
    assert "max_wal_size" not in cluster.auto_conf()


def test_off_waits_for_the_full_interval(make_cluster):
    cluster = make_cluster({"walrus.early_reaction": "off"})
    _, start = baseline_then_load(cluster)
    with SustainedLoad(cluster):
        detected = cluster.wait_for_log(DETECTED, 75, after=start)
    assert int(detected.group(2)) >= 29, detected.group(0)
    assert int(detected.group(1)) >= 2
    assert not re.search(EARLY, cluster.log()[start:])


def test_turned_on_by_a_reload_while_the_worker_sleeps(make_cluster):
    # Off, the worker sleeps through the whole interval; the reload that
    # turns early reaction on must start the looks in that same interval.
    # A 60 s interval: the reload and a storm slowed by a crowded machine
    # still leave it room to be decided in.
    cluster = make_cluster({"walrus.early_reaction": "off", "checkpoint_timeout": "'60s'"})
    baseline, start = baseline_then_load(cluster)
    reload_with(cluster, "walrus.early_reaction", "on")
    with SustainedLoad(cluster):
        early = cluster.wait_for_log(EARLY, 90, after=start)
    secs, timeout = int(early.group(2)), int(early.group(3))
    assert timeout == 60 and 1 <= secs <= 59, early.group(0)
    assert (log_time(cluster, early) - log_time(cluster, baseline)).total_seconds() < 60, "inside interval 1"
    # The early cycle logs its own "detected" line (over the seconds seen);
    # a full cycle's would be over 59 s or more.
    cycles = [int(m.group(2)) for m in re.finditer(DETECTED, cluster.log()[start : early.start()])]
    assert cycles and max(cycles) <= secs, f"no full cycle came first: {cycles}"


def test_turned_on_after_a_burst_that_is_over_waits_for_the_full_interval(make_cluster):
    # A 60 s interval, so that the burst, the reload and many glances fit in
    # it on a crowded machine. The burst forces its checkpoints before looks
    # are on; once on, the glances see calm WAL and do not look, and a look
    # would only take a reading, not count the whole burst as "lately".
    # No autovacuum: its first pass over the burst's fresh pages sets hint
    # bits, and with data checksums (on by default from PostgreSQL 18) that
    # logs a full-page image per page: a second, real burst that early
    # reaction rightly reacts to (seen at 38 s with 8 forced checkpoints).
    cluster = make_cluster({"walrus.early_reaction": "off", "checkpoint_timeout": "'60s'", "autovacuum": "off"})
    baseline, start = baseline_then_load(cluster)
    began = time.monotonic()
    cluster.generate_wal(64)
    # Turned on once the interval is well past the 1 s an early decision needs,
    # so that the first look could react if it counted the burst as new.
    time.sleep(max(0.0, 6 - (time.monotonic() - began)))
    reloaded = reload_with(cluster, "walrus.early_reaction", "on")
    detected = cluster.wait_for_log(DETECTED, 90, after=start)
    forced, secs = int(detected.group(1)), int(detected.group(2))
    assert forced >= 2 and secs >= 59, detected.group(0)
    on_at = (log_time(cluster, reloaded) - log_time(cluster, baseline)).total_seconds()
    assert 4 <= on_at <= 52, f"looks came on {on_at:.1f} s into the interval: not a test of this"
    assert not re.search(EARLY, cluster.log()[start : detected.end()])


def test_no_reaction_while_a_rate_limit_would_block_the_change(make_cluster):
    cluster = make_cluster({**EARLY_ON, "walrus.max_changes_per_hour": "0"})
    _, start = baseline_then_load(cluster)
    with SustainedLoad(cluster):
        blocked = cluster.wait_for_log(r"pg_walrus: adjustment blocked - hourly limit reached", 75, after=start)
    detected = re.search(DETECTED, cluster.log()[start:])
    assert detected and int(detected.group(2)) >= 29, "a change that cannot happen is not worth an early cycle"
    assert not re.search(EARLY, cluster.log()[start : blocked.end()])
