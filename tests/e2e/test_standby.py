"""A real primary and streaming standby on loopback: the worker runs on the
standby too (docs/ha.md), follows the size the primary publishes and writes
nothing; the SQL functions that would write still refuse there; after
promotion the same worker sizes the new primary."""

import re

import psycopg
import pytest

from conftest import BASELINE, RESIZED, WORKER_TEST_SETTINGS, cluster_with_extension, wait_for
from pgcluster import Cluster

# Tier 2 (scripts/test.sh): real time is what these prove, on the release build.
pytestmark = pytest.mark.realtime

FOLLOWING = r"pg_walrus: standby: following the max_wal_size the primary publishes \(walrus\.standby_mirror\)"
PROMOTED = r"pg_walrus: promoted: taking the former primary's max_wal_size, then sizing as a primary"


def test_the_worker_runs_on_a_standby_and_sizes_the_node_once_promoted(make_cluster, pg_version):
    primary = cluster_with_extension(make_cluster)
    standby = Cluster(pg_version, WORKER_TEST_SETTINGS, standby_of=primary, name="walrus-standby")
    try:
        standby.start()
        wait_for(lambda: standby.one("SELECT pg_is_in_recovery()") is True, 30, "recovery")
        # The worker starts once the standby is consistent, and follows.
        standby.wait_for_log(r"pg_walrus worker started", 60)
        standby.wait_for_log(FOLLOWING, 30)
        pid = standby.worker_pid()
        assert pid, "the worker runs on the standby"
        # The extension came along with the base backup.
        status = standby.one("SELECT walrus.status()")
        assert status["in_recovery"] is True and status["worker_running"] is True, status
        assert status["standby_mirror"] is True, status
        # Its first look (at once, then every 10 s) reads the primary's record.
        wait_for(
            lambda: standby.one("SELECT walrus.status()")["primary_size_mb"] == 32, 30, "the primary's published size"
        )
        assert standby.one("SELECT walrus.recommendation()")["action"] in ("none", "increase", "capped", "error")
        assert standby.one("SELECT walrus.analyze()")["applied"] is False
        for call, what in [
            ("SELECT walrus.analyze(apply := true)", "walrus.analyze(apply := true)"),
            ("SELECT walrus.reset()", "walrus.reset()"),
        ]:
            with pytest.raises(
                psycopg.errors.ReadOnlySqlTransaction, match=re.escape(f"{what} cannot run on a standby")
            ):
                standby.sql(call)
        # The primary runs at 32 MB, as does the standby: nothing to write.
        assert "max_wal_size" not in standby.auto_conf()
        assert not re.search(RESIZED, standby.log())

        # Promotion: the same worker notices, and sizes the new primary.
        start = standby.log_offset()
        assert standby.one("SELECT pg_promote()") is True
        standby.wait_for_log(PROMOTED, 30, after=start)
        standby.wait_for_log(BASELINE, 30, after=start)
        assert standby.worker_pid() == pid, "the standby's worker carried on as the primary's"
        status = standby.one("SELECT walrus.status()")
        assert status["in_recovery"] is False and status["promoted_at"] is not None, status
        standby.generate_wal(160)
        resized = standby.wait_for_log(RESIZED, 60, after=start)
        rows = wait_for(lambda: standby.sql("SELECT action FROM walrus.history"), 10, "history on the new primary")
        assert rows[0][0] in ("increase", "capped")
        standby.wait_for_log(
            rf"pg_walrus: published max_wal_size of {resized.group(2)} MB for standbys", 10, after=resized.end()
        )
    finally:
        standby.close()
