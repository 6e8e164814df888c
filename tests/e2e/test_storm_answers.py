"""A storm is never held back by a change made just before it: an idle
interval changes nothing (no strategy grows on no evidence), and a grow that
answers a storm passes the cooldown while still counting toward it.

Early reaction is on (its default), as for a new user: the storm is answered
inside the interval it starts in. The WAL disk guard is off, so sizes follow
the strategies alone whatever this machine's free disk."""

import json
import re

import pytest

from conftest import BASELINE, RESIZED, wait_for
from test_early_reaction import EARLY_ON, LOAD_TABLE, SustainedLoad

# Tier 2 (scripts/test.sh): real time is what these prove, on the release build.
pytestmark = pytest.mark.realtime

IDLE_CYCLE = r"pg_walrus: (\d+) forced checkpoints over (\d+) seconds"
BLOCKED = r"pg_walrus: adjustment blocked - (cooldown active|hourly limit reached)"
PASSED = (
    r"pg_walrus: cooldown active \((\d+) seconds remaining\), but (\d+) forced checkpoints "
    r"are being taken: growing anyway"
)
HISTORY = "SELECT action, old_size_mb, new_size_mb, forced_checkpoints, metadata FROM walrus.history ORDER BY id"
STRATEGIES = ["multiplicative", "additive", "adaptive", "percentile"]


def storm_cluster(make_cluster, **settings):
    cluster = make_cluster({**EARLY_ON, "walrus.max_wal_disk_fraction": "0", **settings})
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.sql(f"CREATE TABLE {LOAD_TABLE} (id bigint, payload text)")
    return cluster


def status(cluster) -> dict:
    return cluster.one("SELECT walrus.status()")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_idle_interval_changes_nothing_and_the_storm_is_answered_at_once(make_cluster, strategy):
    cluster = storm_cluster(
        make_cluster, **{"walrus.algorithm": strategy, "max_wal_size": "'64MB'", "min_wal_size": "'32MB'"}
    )
    baseline = cluster.wait_for_log(BASELINE, 60)
    # A whole idle interval: the worker's cycle at its end sees no forced
    # checkpoint (CREATE EXTENSION's few kB of WAL aside) and must not act.
    # Before 0.3.0 adaptive and percentile grew here (64 -> 102 MB, "0 MB of
    # WAL per interval expected: needs 92 MB") and the cooldown that change
    # started held the storm's answer back.
    idle = cluster.wait_for_log(IDLE_CYCLE, 90, after=baseline.end())
    assert int(idle.group(1)) == 0, idle.group(0)
    assert not re.search(RESIZED, cluster.log()), "the idle interval changed the size"
    assert cluster.sql(HISTORY) == [], "the idle interval recorded a decision"
    assert status(cluster)["cooldown_active"] is False

    start = cluster.log_offset()
    with SustainedLoad(cluster):
        resized = cluster.wait_for_log(RESIZED, 90, after=start)
    assert (int(resized.group(1)), strategy) == (64, strategy)
    assert int(resized.group(2)) > 64
    assert not re.search(BLOCKED, cluster.log()[start:]), "nothing held the storm's answer back"
    action, old, _new, forced, _ = wait_for(lambda: cluster.sql(HISTORY), 30, "the grow's history row")[0]
    assert action in ("increase", "capped") and old == 64, (action, old)
    assert forced >= 2, "a storm's grow: walrus.threshold (2) forced checkpoints at least"


def test_a_shrink_right_before_a_storm_does_not_hold_its_answer_back(make_cluster):
    cluster = storm_cluster(
        make_cluster,
        **{
            "max_wal_size": "'256MB'",
            "min_wal_size": "'32MB'",
            "walrus.min_size": "'64MB'",
            "walrus.shrink_intervals": "1",
        },
    )
    baseline = cluster.wait_for_log(BASELINE, 60)
    # The first quiet interval shrinks (256 * 0.75 = 192 MB) and starts the
    # 300 s cooldown.
    shrink = cluster.wait_for_log(RESIZED, 90, after=baseline.end())
    assert (int(shrink.group(1)), int(shrink.group(2))) == (256, 192)
    assert status(cluster)["cooldown_active"] is True

    start = cluster.log_offset()
    with SustainedLoad(cluster):
        passed = cluster.wait_for_log(PASSED, 90, after=start)
        grown = cluster.wait_for_log(RESIZED, 30, after=passed.start())
    remaining, forced = int(passed.group(1)), int(passed.group(2))
    assert 0 < remaining <= 300 and forced >= 2, passed.group(0)
    assert int(grown.group(1)) == 192 and int(grown.group(2)) > 192
    assert not re.search(BLOCKED, cluster.log()[start:]), "the storm's grow was not held"

    # "capped" when 192 MB x (forced + 1) passes walrus.max: a grow too.
    rows = wait_for(lambda: [r for r in cluster.sql(HISTORY) if r[0] in ("increase", "capped")], 30, "the grow's row")
    metadata = rows[0][4] if isinstance(rows[0][4], dict) else json.loads(rows[0][4])
    assert metadata["rate_limit_passed"]["blocked_by"] == "cooldown"
    assert metadata["rate_limit_passed"]["forced_checkpoints"] == forced
    # It counted: the cooldown starts again from the grow, so the next
    # shrink is held for the whole of it, and the hour holds both changes.
    after = status(cluster)
    assert after["cooldown_active"] is True and after["cooldown_remaining_sec"] > remaining
    assert after["changes_this_hour"] == 2
    assert after["storm_grows_passed"] == 1


def test_negative_control_a_storm_held_by_the_rate_limits_keeps_forcing_checkpoints(make_cluster):
    # walrus.max_changes_per_hour = 0 stops every automatic change, storms
    # included: what holding a storm's answer back costs.
    cluster = storm_cluster(make_cluster, **{"max_wal_size": "'64MB'", "walrus.max_changes_per_hour": "0"})
    cluster.wait_for_log(BASELINE, 60)
    start = cluster.log_offset()
    before = cluster.requested_checkpoints()
    with SustainedLoad(cluster):
        blocked = cluster.wait_for_log(BLOCKED, 90, after=start)
        wait_for(lambda: cluster.requested_checkpoints() - before >= 8, 120, "more forced checkpoints while held")
    assert blocked.group(1) == "hourly limit reached"
    assert not re.search(RESIZED, cluster.log()[start:])
    assert max(int(m.group(1)) for m in re.finditer(r"detected (\d+) forced checkpoints", cluster.log())) >= 2
