"""scripts/pg_source.sh against a throwaway local mirror: a real HTTP server
(python -m http.server on loopback) serves a Debian-style source index and
pool, so the real apt-get/apt-cache/curl path runs, only the files differ.

The index names a version whose tarball the pool does not have (as trixie's
named 17.12 on 2026-12-01 while its pool answered 404): set-up must fall back
to the pinned version and verify it."""

import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pg_source.sh"
SUITE = "trixie"


def make_tarball(path: Path, top: str, marker: str) -> str:
    """A tiny 'upstream' tarball with a configure script; returns its sha256."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        data = f"#!/bin/sh\n# {marker}\n".encode()
        info = tarfile.TarInfo(f"{top}/configure")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def write_index(mirror: Path, version: str, tarball: str, sha: str) -> None:
    """dists/SUITE with a Sources index naming `version` and an unsigned Release."""
    sources = (
        f"Package: postgresql-17\nBinary: postgresql-17\nVersion: {version}\n"
        "Maintainer: Test <test@localhost>\nArchitecture: any\nFormat: 3.0 (quilt)\n"
        "Directory: pool/main/p/postgresql-17\nChecksums-Sha256:\n"
        f" {sha} 1234 {tarball}\n"
        f" {'0' * 64} 100 postgresql-17_{version}.dsc\n\n"
    ).encode()
    source_dir = mirror / "dists" / SUITE / "main" / "source"
    source_dir.mkdir(parents=True, exist_ok=True)
    (source_dir / "Sources").write_bytes(sources)
    digest = hashlib.sha256(sources).hexdigest()
    (mirror / "dists" / SUITE / "Release").write_text(
        f"Suite: {SUITE}\nCodename: {SUITE}\nComponents: main\nArchitectures: amd64 source\n"
        f"SHA256:\n {digest} {len(sources)} main/source/Sources\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mirror(tmp_path):
    """A started HTTP server over tmp_path/www; yields (root dir, URL)."""
    www = tmp_path / "www"
    (www / "debian").mkdir(parents=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(www)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the local mirror did not start"
            time.sleep(0.1)
    yield www / "debian", f"http://127.0.0.1:{port}/debian", server
    server.terminate()
    server.wait(timeout=10)


def run_fetch(tmp_path, url, pins: str, dest: Path):
    pin_file = tmp_path / "pins.tsv"
    pin_file.write_text(pins)
    cache = tmp_path / "cache"
    env = dict(
        os.environ,
        WALRUS_CACHE=str(cache),
        WALRUS_DEBIAN_MIRROR=url,
        WALRUS_DEBIAN_MIRROR_UNSIGNED="1",
        WALRUS_PG_SOURCES=str(pin_file),
    )
    return subprocess.run(
        ["bash", str(SCRIPT), "17", str(dest)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def pin_row(version: str, tarball: str, sha: str) -> str:
    return f"17\t{SUITE}\t{version}\t{tarball}\t{sha}\n"


POOL = Path("pool/main/p/postgresql-17")


def test_a_404_on_the_index_version_falls_back_to_the_pinned_one(tmp_path, mirror):
    root, url, _ = mirror
    # The index names 17.99, which the pool does not serve (404).
    write_index(root, "17.99-1", "postgresql-17_17.99.orig.tar.bz2", "a" * 64)
    sha = make_tarball(root / POOL / "postgresql-17_17.50.orig.tar.bz2", "postgresql-17.50", "pinned 17.50")
    dest = tmp_path / "src"
    result = run_fetch(tmp_path, url, pin_row("17.50-1", "postgresql-17_17.50.orig.tar.bz2", sha), dest)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "17.50-1 pinned"
    assert "17.99-1 (index) could not be fetched" in result.stderr and "404" in result.stderr
    assert "pinned 17.50" in (dest / "configure").read_text()


def test_the_index_version_is_used_when_the_pool_serves_it(tmp_path, mirror):
    root, url, _ = mirror
    sha_new = make_tarball(root / POOL / "postgresql-17_17.99.orig.tar.bz2", "postgresql-17.99", "index 17.99")
    write_index(root, "17.99-1", "postgresql-17_17.99.orig.tar.bz2", sha_new)
    sha_pin = make_tarball(root / POOL / "postgresql-17_17.50.orig.tar.bz2", "postgresql-17.50", "pinned 17.50")
    dest = tmp_path / "src"
    result = run_fetch(tmp_path, url, pin_row("17.50-1", "postgresql-17_17.50.orig.tar.bz2", sha_pin), dest)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "17.99-1 index"
    assert "index 17.99" in (dest / "configure").read_text()


def test_a_tarball_that_fails_its_checksum_is_never_unpacked(tmp_path, mirror):
    root, url, _ = mirror
    write_index(root, "17.99-1", "postgresql-17_17.99.orig.tar.bz2", "a" * 64)
    make_tarball(root / POOL / "postgresql-17_17.50.orig.tar.bz2", "postgresql-17.50", "tampered")
    dest = tmp_path / "src"
    result = run_fetch(tmp_path, url, pin_row("17.50-1", "postgresql-17_17.50.orig.tar.bz2", "b" * 64), dest)
    assert result.returncode == 1
    assert "checksum mismatch" in result.stderr
    assert not dest.exists()
    assert not list((tmp_path / "cache" / "src").glob("*.orig.tar.bz2")), "a bad tarball was kept in the cache"


def test_nothing_fetchable_is_one_error_naming_every_version_location_and_the_pin_file(tmp_path, mirror):
    root, url, _ = mirror
    write_index(root, "17.99-1", "postgresql-17_17.99.orig.tar.bz2", "a" * 64)
    pins = pin_row("17.50-1", "postgresql-17_17.50.orig.tar.bz2", "b" * 64) + pin_row(
        "17.40-1", "postgresql-17_17.40.orig.tar.bz2", "c" * 64
    )
    result = run_fetch(tmp_path, url, pins, tmp_path / "src")
    assert result.returncode == 1
    error = result.stderr[result.stderr.index("error: no source of PostgreSQL 17") :]
    for version, tarball in [("17.99-1", "17.99"), ("17.50-1", "17.50"), ("17.40-1", "17.40")]:
        assert f"{version} (" in error and f"{url}/{POOL}/postgresql-17_{tarball}.orig.tar.bz2" in error
    assert str(tmp_path / "pins.tsv") in error


def test_a_verified_tarball_in_the_cache_needs_no_network(tmp_path, mirror):
    root, url, server = mirror
    write_index(root, "17.99-1", "postgresql-17_17.99.orig.tar.bz2", "a" * 64)
    sha = make_tarball(root / POOL / "postgresql-17_17.50.orig.tar.bz2", "postgresql-17.50", "pinned 17.50")
    pins = pin_row("17.50-1", "postgresql-17_17.50.orig.tar.bz2", sha)
    assert run_fetch(tmp_path, url, pins, tmp_path / "src").returncode == 0
    server.terminate()
    server.wait(timeout=10)
    again = run_fetch(tmp_path, url, pins, tmp_path / "src2")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "17.50-1 pinned"
