"""Fixtures for the package tests: the packages scripts/package.sh built, and
the previous release's, built from its commit (scripts/releases.tsv)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

VERSIONS = os.environ.get("WALRUS_PG_VERSIONS", "15").split()
CURRENT = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.MULTILINE).group(1)
ARCH = subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True, text=True).stdout.strip()


def package_name(pg_version: str) -> str:
    return f"postgresql-{pg_version}-walrus"


def previous_release() -> str:
    """The newest version in scripts/releases.tsv: the one users upgrade from."""
    rows = [line.split() for line in (ROOT / "scripts" / "releases.tsv").read_text().splitlines()]
    versions = [row[0] for row in rows if row and not row[0].startswith("#")]
    assert versions, "scripts/releases.tsv names no release"
    return versions[-1]


@pytest.fixture(params=VERSIONS, ids=lambda v: f"pg{v}")
def pg_version(request):
    return request.param


@pytest.fixture
def deb(pg_version) -> Path:
    path = ROOT / "dist" / f"{package_name(pg_version)}_{CURRENT}-1_{ARCH}.deb"
    assert path.exists(), f"{path} is missing: run scripts/package.sh {pg_version}"
    return path


@pytest.fixture
def previous_deb() -> Path:
    """The previous release's package for PostgreSQL 15 (cached once built)."""
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "package.sh"), "--release", previous_release(), "15"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(built.stdout.strip().splitlines()[-1])
