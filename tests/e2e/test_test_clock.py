"""The test build's clock (src/pg/test_clock.rs): it stands still until a test
moves it, a cycle it brings is the worker's ordinary one, only a superuser
moves it, and the release build has none of it."""

import re
import time

import psycopg
import pytest

from conftest import ADVANCE_CLOCK, BASELINE, HELD_CLOCK, advance_clock

IDLE = r"pg_walrus: (\d+) forced checkpoints over (\d+) seconds"


def test_the_held_clock_moves_only_when_told_and_brings_ordinary_cycles(make_cluster):
    cluster = make_cluster(HELD_CLOCK)
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.wait_for_log(BASELINE, 60)
    start = cluster.log_offset()
    # Real time does not move it: three real seconds and 28 test seconds
    # are still short of the 30 s interval (a clock that followed real time
    # would end it here). The worker wakes, finds nothing due.
    time.sleep(3)
    assert advance_clock(cluster, 28)["cycles"] == 0
    assert advance_clock(cluster, 1)["cycles"] == 0
    assert not re.search(IDLE, cluster.log()[start:])
    # One more second ends it: exactly one cycle, exactly 30 s long, done by
    # the time the call returns.
    assert advance_clock(cluster, 1)["cycles"] == 1
    idle = re.search(IDLE, cluster.log()[start:])
    assert idle and (int(idle.group(1)), int(idle.group(2))) == (0, 30), idle
    status = cluster.one("SELECT walrus.status()")
    assert status["quiet_intervals"] == 1
    # Two intervals' worth at once is still one cycle: the worker, like the
    # real one after a long stall, starts its next interval when it wakes.
    assert advance_clock(cluster, 60)["cycles"] == 1
    assert cluster.one("SELECT walrus.status()")["quiet_intervals"] == 2


def test_only_a_superuser_moves_the_clock(make_cluster):
    cluster = make_cluster(HELD_CLOCK)
    cluster.sql("CREATE EXTENSION pg_walrus")
    cluster.wait_for_log(BASELINE, 60)
    cluster.sql(ADVANCE_CLOCK)
    cluster.sql("CREATE ROLE someone LOGIN")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="requires superuser"):
        cluster.sql("SELECT public.walrus_test_advance_clock(30)", user="someone")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="finite number"):
        cluster.sql("SELECT public.walrus_test_advance_clock('NaN')")


@pytest.mark.realtime
def test_the_release_build_has_no_test_clock(make_cluster):
    cluster = make_cluster()
    with pytest.raises(psycopg.errors.UndefinedFunction, match="could not find function"):
        cluster.sql(ADVANCE_CLOCK)
    with pytest.raises(psycopg.errors.UndefinedObject, match="unrecognized configuration parameter"):
        cluster.sql("SHOW walrus.test_clock_hold")
