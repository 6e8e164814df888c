"""The Debian packages, the way a DBA meets them: their fields and files,
lintian, apt-get install on this machine's PostgreSQL 15 with the worker
resizing a real server, apt-get purge, the upgrade from the previous
release's package under a running server, and (for the majors Debian 12 has
no server package of) the package's files in the source-built server.

These tests install into the system's PostgreSQL directories: they run on
their own, before the end-to-end suite installs its build (scripts/test.sh)."""

import hashlib
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import ARCH, CURRENT, ROOT, package_name, previous_release
from pgcluster import Cluster, pg_config, wait_for

SETTINGS = {
    "shared_buffers": "'32MB'",
    "checkpoint_timeout": "'30s'",
    "max_wal_size": "'32MB'",
    "min_wal_size": "'32MB'",
    "log_min_messages": "debug1",
}
BASELINE = r"pg_walrus: baseline taken at \d+ requested checkpoints"
RESIZED = r"pg_walrus: resizing max_wal_size from (\d+) MB to (\d+) MB"
CYCLE = r"pg_walrus: (detected )?\d+ forced checkpoints over \d+ seconds"
PRELOAD_FAILS = r'could not access file "pg_walrus"'


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    return subprocess.run(cmd, check=check, capture_output=True, text=True, env=env)


def field(deb: Path, name: str) -> str:
    return run("dpkg-deb", "-f", str(deb), name).stdout.strip()


def installed(package: str) -> bool:
    status = run("dpkg-query", "-W", "-f=${Status}", package, check=False).stdout
    return "ok installed" in status


def apt_install(deb: Path) -> str:
    result = run("apt-get", "install", "-y", "--no-install-recommends", str(deb))
    return result.stdout + result.stderr


def apt_purge(package: str) -> str:
    result = run("apt-get", "purge", "-y", package)
    return result.stdout + result.stderr


def max_wal_size_mb(cluster) -> int:
    return int(cluster.one("SELECT setting FROM pg_settings WHERE name = 'max_wal_size'"))


def history(cluster) -> list[tuple]:
    return cluster.sql(
        'SELECT id, action, old_size_mb, new_size_mb, "timestamp", reason, metadata::text FROM walrus.history ORDER BY id'
    )


def resizes_under_a_burst(cluster) -> tuple[int, int]:
    """Drives a WAL burst and waits (a deadline, not the assertion) for the
    worker to grow max_wal_size and record it; returns (from, to) in MB."""
    offset = cluster.log_offset()
    rows = len(history(cluster))
    cluster.generate_wal(160)
    resized = cluster.wait_for_log(RESIZED, 180, after=offset)
    old, new = int(resized.group(1)), int(resized.group(2))
    assert new > old
    wait_for(lambda: len(history(cluster)) > rows, 60, "the resize's history row")
    wait_for(lambda: max_wal_size_mb(cluster) >= new, 60, f"max_wal_size {new} MB in force")
    return old, new


@pytest.fixture
def clean_system(pg_version):
    """No pg_walrus package before or after (a failed run may leave one)."""
    package = package_name(pg_version)
    if installed(package):
        apt_purge(package)
    yield package
    if installed(package):
        apt_purge(package)


# --- what is in the package ---------------------------------------------------
def test_control_fields(deb, pg_version):
    assert field(deb, "Package") == f"postgresql-{pg_version}-walrus"
    assert field(deb, "Version") == f"{CURRENT}-1"
    assert field(deb, "Architecture") == ARCH
    depends = [d.strip() for d in field(deb, "Depends").split(",")]
    assert depends[0] == f"postgresql-{pg_version}", depends
    assert any(d.startswith("libc6 ") for d in depends), depends
    assert field(deb, "Section") == "database"
    assert re.fullmatch(r".+ <[^@\s]+@[^@\s]+>", field(deb, "Maintainer"))
    assert f"PostgreSQL {pg_version}" in field(deb, "Description").splitlines()[0]


def test_files_owners_modes_and_md5sums(deb, pg_version, tmp_path):
    package = package_name(pg_version)
    allowed = (
        f"usr/lib/postgresql/{pg_version}/lib/",
        f"usr/share/postgresql/{pg_version}/extension/",
        f"usr/share/doc/{package}/",
    )
    files = {}
    with (
        subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as proc,
        tarfile.open(fileobj=proc.stdout, mode="r|") as tar,
    ):
        for member in tar:
            path = member.name.removeprefix("./")
            assert (member.uname, member.gname) == ("root", "root"), f"{path} is {member.uname}:{member.gname}"
            if member.isdir():
                assert member.mode == 0o755, f"{path}: {oct(member.mode)}"
                continue
            assert member.isfile(), f"{path} is neither a file nor a directory"
            assert path.startswith(allowed), f"{path} is outside Debian's PostgreSQL {pg_version} paths"
            assert member.mode == 0o644, f"{path}: {oct(member.mode)}"
            files[path] = hashlib.md5(tar.extractfile(member).read()).hexdigest()

    lib = f"usr/lib/postgresql/{pg_version}/lib/"
    ext = f"usr/share/postgresql/{pg_version}/extension/"
    doc = f"usr/share/doc/{package}/"
    assert [p for p in files if p.startswith(lib)] == [f"{lib}pg_walrus.so"]
    scripts = {p.removeprefix(ext) for p in files if p.startswith(ext)}
    upgrades = {p.name for p in (ROOT / "sql").glob("pg_walrus--*--*.sql")}
    assert scripts == {"pg_walrus.control", f"pg_walrus--{CURRENT}.sql", *upgrades}
    docs = {p.removeprefix(doc) for p in files if p.startswith(doc)}
    examples = {f"examples/{p.name}" for p in (ROOT / "docs" / "monitoring").iterdir()}
    assert docs == {"copyright", "changelog.Debian.gz", "changelog.gz", "README.md.gz", *examples}

    run("dpkg-deb", "-e", str(deb), str(tmp_path / "DEBIAN"))
    md5sums = dict(
        reversed(line.split(maxsplit=1)) for line in (tmp_path / "DEBIAN" / "md5sums").read_text().splitlines()
    )
    assert md5sums == files, "DEBIAN/md5sums must list every file with its checksum"

    run("dpkg-deb", "-x", str(deb), str(tmp_path / "root"))
    control = (tmp_path / "root" / ext / "pg_walrus.control").read_text()
    assert f"default_version = '{CURRENT}'" in control
    symbols = run("nm", "-D", "--defined-only", str(tmp_path / "root" / lib / "pg_walrus.so")).stdout
    assert re.search(r"\bPg_magic_func\b", symbols), "stripping must keep what PostgreSQL looks up"
    assert re.search(r"\bwalrus_worker_main\b", symbols)


def test_lintian_finds_no_error_and_only_documented_warnings(deb):
    result = run("lintian", "--tag-display-limit", "0", str(deb), check=False)
    tags = [line.split() for line in result.stdout.splitlines() if re.match(r"^[EWIPN]: ", line)]
    errors = [" ".join(t) for t in tags if t[0] == "E:"]
    assert not errors, "\n".join(errors)
    documented = (ROOT / "docs" / "releasing.md").read_text()
    undocumented = sorted({t[2] for t in tags if t[0] == "W:" and f"`{t[2]}`" not in documented})
    assert not undocumented, f"lintian warnings not explained in docs/releasing.md: {undocumented}"


# --- installed on a real server ---------------------------------------------
def test_apt_install_resize_and_purge(deb, pg_version, clean_system):
    if pg_version != "15":
        pytest.skip("Debian 12 packages PostgreSQL 15 only (the source-built majors: the next test)")
    package = clean_system
    apt_install(deb)
    assert installed(package)
    owned = [Path(p) for p in run("dpkg", "-L", package).stdout.splitlines()]
    owned_files = [p for p in owned if p.is_file()]
    assert Path(f"/usr/lib/postgresql/{pg_version}/lib/pg_walrus.so") in owned_files

    cluster = Cluster(pg_version, SETTINGS)
    try:
        cluster.start()
        cluster.sql("CREATE EXTENSION pg_walrus")
        cluster.wait_for_log(BASELINE, 60)
        assert cluster.worker_pid(), "the worker runs from the packaged library"
        resizes_under_a_burst(cluster)

        # Removing the package while this server preloads it warns, names
        # the server, and edits nothing.
        conf_before = (cluster.datadir / "postgresql.conf").read_bytes()
        output = apt_purge(package)
        assert "WARNING: pg_walrus is preloaded by these PostgreSQL 15 servers" in output, output
        assert str(cluster.datadir.resolve()) in output, output
        assert (cluster.datadir / "postgresql.conf").read_bytes() == conf_before
        assert not installed(package)
        left = [str(p) for p in owned_files if p.exists()]
        assert not left, f"apt-get purge left files behind: {left}"
        assert not Path(f"/usr/share/doc/{package}").exists()

        # The danger the warning is about: with the library gone, a server
        # that still preloads it does not start.
        offset = cluster.log_offset()
        cluster.stop()
        with pytest.raises(RuntimeError):
            cluster.start()
        assert re.search(PRELOAD_FAILS, cluster.log()[offset:])
    finally:
        cluster.close()


def test_package_files_in_the_source_built_server(deb, pg_version, tmp_path):
    if pg_version == "15":
        pytest.skip("PostgreSQL 15's package is installed with apt-get (the test above)")
    run("dpkg-deb", "-x", str(deb), str(tmp_path))
    shutil.copy(tmp_path / f"usr/lib/postgresql/{pg_version}/lib/pg_walrus.so", pg_config(pg_version, "pkglibdir"))
    extdir = Path(pg_config(pg_version, "sharedir")) / "extension"
    for script in (tmp_path / f"usr/share/postgresql/{pg_version}/extension").iterdir():
        shutil.copy(script, extdir / script.name)
    with Cluster(pg_version, SETTINGS) as cluster:
        cluster.sql("CREATE EXTENSION pg_walrus")
        assert cluster.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_walrus'") == CURRENT
        cluster.wait_for_log(BASELINE, 60)
        resizes_under_a_burst(cluster)


# --- upgraded the way it happens --------------------------------------------
def test_upgrade_from_the_previous_release_package(deb, previous_deb, pg_version, clean_system):
    if pg_version != "15":
        pytest.skip("the upgrade goes through apt-get on Debian's PostgreSQL 15")
    previous = previous_release()
    apt_install(previous_deb)
    cluster = Cluster(pg_version, SETTINGS)
    try:
        cluster.start()
        cluster.sql("CREATE EXTENSION pg_walrus")
        assert cluster.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_walrus'") == previous
        cluster.wait_for_log(BASELINE, 60)
        resizes_under_a_burst(cluster)
        rows_before = history(cluster)

        # The new package over the old one, the server running.
        output = apt_install(deb)
        assert f"pg_walrus was upgraded from {previous}-1" in output, output

        # The restart loads the new library, which meets the old SQL objects.
        # Back at 32 MB (a DBA's ALTER SYSTEM), so the next burst grows it.
        cluster.sql("ALTER SYSTEM SET max_wal_size = '32MB'")
        offset = cluster.log_offset()
        cluster.restart()
        mismatch = (
            rf'pg_walrus: the extension in database "postgres" is at version {re.escape(previous)}, '
            rf"the loaded library at {re.escape(CURRENT)}"
        )
        cluster.wait_for_log(mismatch, 90, after=offset)
        assert re.search(r"HINT:\s+Run ALTER EXTENSION pg_walrus UPDATE", cluster.log()[offset:])
        # It keeps sizing and recording with those objects...
        resizes_under_a_burst(cluster)
        # ... and says so once, not every cycle: two more cycles, no repeat,
        # and no error from the worker.
        seen = cluster.log_offset()
        wait_for(lambda: len(re.findall(CYCLE, cluster.log()[seen:])) >= 2, 150, "two more cycles")
        log = cluster.log()[offset:]
        assert len(re.findall(mismatch, log)) == 1, "the mismatch is warned once"
        assert not re.findall(r"\] pg_walrus: (ERROR|FATAL|PANIC):", log), log[-3000:]

        cluster.sql("ALTER EXTENSION pg_walrus UPDATE")
        assert cluster.one("SELECT extversion FROM pg_extension WHERE extname = 'pg_walrus'") == CURRENT
        rows_after = history(cluster)
        assert rows_after[: len(rows_before)] == rows_before, "every history row survives the update"
        assert len(rows_after) > len(rows_before), "the rows written between restart and update are kept too"

        cluster.sql("CREATE DATABASE fresh")
        cluster.sql("CREATE EXTENSION pg_walrus", dbname="fresh")
        upgraded, fresh = cluster.extension_catalog("postgres"), cluster.extension_catalog("fresh")
        for kind in fresh:
            assert upgraded[kind] == fresh[kind], f"{previous} -> {CURRENT}: {kind} differ from a fresh install"
    finally:
        cluster.close()


def test_the_previous_release_is_a_real_older_package(previous_deb):
    assert field(previous_deb, "Version") == f"{previous_release()}-1"
    assert previous_release() != CURRENT, "scripts/releases.tsv must not list the version being released"
    with tempfile.TemporaryDirectory() as tmp:
        run("dpkg-deb", "-x", str(previous_deb), tmp)
        scripts = {p.name for p in Path(tmp).glob("usr/share/postgresql/15/extension/*.sql")}
    assert f"pg_walrus--{previous_release()}.sql" in scripts
