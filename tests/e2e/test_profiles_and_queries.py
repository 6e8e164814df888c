"""Time-of-day profiles and WAL-heavy statements on a live server."""

import json
import re

import psycopg
import pytest

from conftest import HELD_CLOCK, RESIZED, advance_clock, cluster_with_extension, wait_for

ALL_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def test_a_profile_active_now_caps_the_decision(make_cluster):
    # A whole-day profile every day is active whatever the time of the run.
    profiles = json.dumps(
        [{"name": "always_small", "days": ALL_DAYS, "start_hour": 0, "end_hour": 0, "max_size": 64, "threshold": 2}]
    )
    # The WAL disk guard off: the profile's 64 MB is the cap, not this
    # machine's free disk.
    cluster = cluster_with_extension(
        make_cluster, **{"walrus.profiles": "'" + profiles + "'", "walrus.max_wal_disk_fraction": "0"}, **HELD_CLOCK
    )
    status = cluster.one("SELECT walrus.status()")
    assert status["active_profile"] == "always_small"
    assert status["configured_maximum_mb"] == 64, "status shows the effective cap"
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    resized = re.findall(RESIZED, cluster.log()[start:])
    assert [(int(a), int(b)) for a, b in resized] == [(32, 64)], "walrus.max is 4GB; the profile caps at 64"
    rows = wait_for(lambda: cluster.sql("SELECT action, metadata FROM walrus.history"), 10, "the row")
    assert rows[0][0] == "capped" and rows[0][1]["profile"] == "always_small"
    wait_for(lambda: cluster.one("SELECT walrus.status()")["at_ceiling"] is True, 10, "at_ceiling under the profile")

    # A profile for another window is inactive: the configured values rule.
    other = json.dumps([{"name": "never_now", "days": ["Mon"], "start_hour": 3, "end_hour": 3, "max_size": 64}])
    with cluster.connect() as conn:
        weekday = conn.execute("SELECT extract(isodow FROM now())").fetchone()[0]
        if weekday == 1:
            other = other.replace('"Mon"', '"Tue"')
        conn.execute(f"ALTER SYSTEM SET walrus.profiles = '{other}'")
        conn.execute("SELECT pg_reload_conf()")
    status = wait_for(
        lambda: (s := cluster.one("SELECT walrus.status()"))["active_profile"] is None and s, 10, "reload"
    )
    assert status["configured_maximum_mb"] == 4096


def test_top_wal_queries_finds_the_heaviest_statement(make_cluster):
    # No cycle until the INSERT has finished (the clock is held):
    # pg_stat_statements only knows a statement once it ends, and a cycle in
    # the middle of a slow INSERT would grow without it.
    cluster = cluster_with_extension(
        make_cluster, shared_preload_libraries="'pg_walrus,pg_stat_statements'", **HELD_CLOCK
    )
    cluster.sql("CREATE EXTENSION pg_stat_statements")
    # Growth rows list WAL per statement *since the previous cycle*: the
    # worker needs one snapshot taken with pg_stat_statements in place, which
    # a quiet cycle takes.
    assert advance_clock(cluster, 30)["cycles"] == 1
    with cluster.connect() as conn:
        conn.execute("CREATE TABLE light (x int)")
        conn.execute("INSERT INTO light SELECT g FROM generate_series(1, 10) g")
    start = cluster.log_offset()
    cluster.generate_wal(160, table="heavy_writer")
    rows = cluster.sql(
        "SELECT query, calls, wal_bytes, wal_bytes_per_call, queryid, wal_fpi FROM walrus.top_wal_queries(3)"
    )
    assert 1 <= len(rows) <= 3
    query, calls, wal_bytes, per_call, queryid, _fpi = rows[0]
    assert "heavy_writer" in query and "generate_series" in query, rows
    assert wal_bytes > 100 * 1024 * 1024 and per_call == pytest.approx(float(wal_bytes) / calls)
    # The worker names it in the history row of the growth it caused.
    assert advance_clock(cluster, 30)["cycles"] == 1
    assert re.search(RESIZED, cluster.log()[start:])
    row = wait_for(
        lambda: cluster.sql("SELECT metadata FROM walrus.history WHERE action IN ('increase', 'capped')"),
        10,
        "the growth row",
    )
    top = row[0][0].get("top_wal_queries")
    assert top and top[0]["queryid"] == queryid, row


def test_top_wal_queries_without_pg_stat_statements_says_how_to_fix(make_cluster):
    cluster = cluster_with_extension(make_cluster)
    with cluster.connect() as conn:
        with pytest.raises(psycopg.errors.UndefinedObject, match="pg_stat_statements is not installed") as error:
            conn.execute("SELECT * FROM walrus.top_wal_queries()")
        assert "shared_preload_libraries" in error.value.diag.message_hint
