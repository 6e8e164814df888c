"""A real primary and streaming standby on loopback: the standby never
writes; after promotion the worker sizes the new primary."""

import re

import psycopg
import pytest

from conftest import BASELINE, RESIZED, WORKER_TEST_SETTINGS, cluster_with_extension, wait_for
from pgcluster import Cluster


def test_standby_never_writes_and_promotion_starts_sizing(make_cluster, pg_version):
    primary = cluster_with_extension(make_cluster)
    standby = Cluster(pg_version, WORKER_TEST_SETTINGS, standby_of=primary, name="walrus-standby")
    try:
        standby.start()
        wait_for(lambda: standby.one("SELECT pg_is_in_recovery()") is True, 30, "recovery")
        # The extension came along with the base backup.
        status = standby.one("SELECT walrus.status()")
        assert status["in_recovery"] is True and status["worker_running"] is False
        assert standby.worker_pid() is None, "no worker on a standby"
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
        assert "max_wal_size" not in standby.auto_conf()

        # Promotion: the worker starts on the new primary and sizes it.
        start = standby.log_offset()
        assert standby.one("SELECT pg_promote()") is True
        standby.wait_for_log(r"pg_walrus worker started", 60, after=start)
        standby.wait_for_log(BASELINE, 30, after=start)
        assert standby.one("SELECT walrus.status()")["in_recovery"] is False
        standby.generate_wal(160)
        standby.wait_for_log(RESIZED, 60, after=start)
        rows = wait_for(lambda: standby.sql("SELECT action FROM walrus.history"), 10, "history on the new primary")
        assert rows[0][0] in ("increase", "capped")
    finally:
        standby.close()
