"""Every released version upgrades to the current one, and the current
version's released script matches what the build generates (a SQL change
needs a version bump and an upgrade script; see tests/upgrade/README.md)."""

import re
import shutil
from pathlib import Path

from pgcluster import pg_config

ROOT = Path(__file__).resolve().parents[2]
CURRENT = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.MULTILINE).group(1)
RELEASED = sorted(p for p in (ROOT / "tests" / "upgrade").glob("pg_walrus--*.sql"))


def statements(script: str) -> set[str]:
    """The script's statements, comments and layout removed: pgrx's order and
    source-line comments change with unrelated edits."""
    text = re.sub(r"/\*.*?\*/", "", script, flags=re.DOTALL)
    text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    parts = re.split(r";\s*\n", text)
    return {re.sub(r"\s+", " ", p).strip() for p in parts if p.strip()}


def test_released_scripts_upgrade_to_the_current_version(make_cluster, pg_version):
    assert RELEASED, "tests/upgrade must hold at least the first release"
    extdir = Path(pg_config(pg_version, "sharedir")) / "extension"
    generated = (extdir / f"pg_walrus--{CURRENT}.sql").read_text()
    cluster = make_cluster()
    cluster.sql("CREATE DATABASE fresh")
    cluster.sql("CREATE EXTENSION pg_walrus", dbname="fresh")
    for script in RELEASED:
        version = script.name[len("pg_walrus--") : -len(".sql")]
        if version == CURRENT:
            assert statements(script.read_text()) == statements(generated), (
                f"the SQL of {CURRENT} changed since its release: bump the version and add an upgrade script"
            )
            continue
        shutil.copy(script, extdir / script.name)
        db = f"from_{version.replace('.', '_')}"
        cluster.sql(f"CREATE DATABASE {db}")
        cluster.sql(f"CREATE EXTENSION pg_walrus VERSION '{version}'", dbname=db)
        cluster.sql("ALTER EXTENSION pg_walrus UPDATE", dbname=db)
        assert cluster.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_walrus'", dbname=db) == CURRENT
        # Functions with their signatures, tables and columns, privileges,
        # comments and pg_dump registrations: exactly a fresh install's.
        upgraded, fresh = cluster.extension_catalog(db), cluster.extension_catalog("fresh")
        for kind in fresh:
            assert upgraded[kind] == fresh[kind], f"{version} -> {CURRENT}: {kind} differ from a fresh install"
