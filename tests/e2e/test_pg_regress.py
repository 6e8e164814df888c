"""Golden-file tests (tests/pg_regress) run by PostgreSQL's own pg_regress
against a preloaded cluster: the SQL surface, its error texts and the GUC
catalogue, byte for byte."""

import shutil
import tempfile
from pathlib import Path

import pytest

REGRESS = Path(__file__).resolve().parents[1] / "pg_regress"
SCHEDULE = ["setup", "guc_catalogue", "api", "metrics", "strategies", "permissions", "dropped_history", "profiles"]


# Tier 2: byte for byte, the surface of the build that ships (a test build's
# catalogue has one more setting, walrus.test_clock_hold).
@pytest.mark.realtime
def test_pg_regress(make_cluster):
    cluster = make_cluster()
    cluster.wait_for_log(r"pg_walrus: baseline taken", 30)
    out = Path(tempfile.mkdtemp(prefix=f"walrus-regress-pg{cluster.version}-"))
    result = cluster.pg_regress(REGRESS, out, SCHEDULE)
    diffs = out / "regression.diffs"
    assert result.returncode == 0, result.stdout + result.stderr + (diffs.read_text() if diffs.exists() else "")
    # Kept only when it failed: then it holds the diffs.
    shutil.rmtree(out, ignore_errors=True)
