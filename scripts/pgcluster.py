"""Throwaway PostgreSQL clusters for pg_walrus's end-to-end tests, demo and
benchmarks.

Each cluster lives in its own temporary directory, owned by an unprivileged
user (PostgreSQL refuses to run as root), listens only on 127.0.0.1 on a port
nobody else uses, and is stopped and removed by `close()` (or the `with`
block), also when the caller fails.

`wal_fs_mb=N` puts pg_wal on a filesystem of its own: a tmpfs of N MB mounted
inside the cluster's directory (initdb --waldir), for tests of what happens
when that filesystem fills. It needs root; `close()` unmounts it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import psycopg

PG_USER = os.environ.get("WALRUS_PG_USER", "postgres")
CACHE = os.environ.get("WALRUS_CACHE", "/opt/pg_walrus")


def pg_bindir(version: str) -> Path:
    if str(version) == "15":
        return Path("/usr/lib/postgresql/15/bin")
    return Path(CACHE) / f"pg{version}" / "bin"


def pg_config(version: str, key: str) -> str:
    return subprocess.run(
        [str(pg_bindir(version) / "pg_config"), f"--{key}"], check=True, capture_output=True, text=True
    ).stdout.strip()


# Ports handed out, reserved across every process of this machine (the
# test workers run at once): a port is given to one caller only, for
# PORT_RESERVATION_SECS, whoever binds it first. Without this, two workers
# could draw the same free port and one of them fail to bind (a Patroni
# member's PostgreSQL did, in CI, and its cluster never came up).
PORT_RESERVATIONS = Path(tempfile.gettempdir()) / "walrus-port-reservations"
PORT_RESERVATION_SECS = 3 * 3600


def _reserve(port: int) -> bool:
    PORT_RESERVATIONS.mkdir(mode=0o1777, exist_ok=True)
    path = PORT_RESERVATIONS / str(port)
    with contextlib.suppress(FileNotFoundError):
        if time.time() - path.stat().st_mtime > PORT_RESERVATION_SECS:
            path.unlink()  # a stale reservation (an earlier run's)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        return True
    except FileExistsError:
        return False


# Every cluster that is not a standby starts as the same initdb'd data
# directory: one is made per PostgreSQL build (keyed by its initdb binary)
# and copied per cluster, which costs a third of an initdb's time (0.7 s
# against 1.9 s here). The copies share a system identifier, which nothing
# here compares: a standby is a base backup of its own primary.
INITDB_TEMPLATES = Path(tempfile.gettempdir()) / "walrus-initdb-templates"
INITDB_ARGS = ["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]


def initdb_template(bindir: Path) -> Path:
    """The template data directory for `bindir`'s initdb, made on first use
    (under a lock, so that parallel test workers make it once) and renamed
    into place only when complete."""
    initdb = bindir / "initdb"
    stat = initdb.stat()
    key = hashlib.sha256(f"{initdb.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{INITDB_ARGS}".encode()).hexdigest()
    template = INITDB_TEMPLATES / key[:16]
    if (template / "data" / "PG_VERSION").exists():
        return template / "data"
    INITDB_TEMPLATES.mkdir(mode=0o755, exist_ok=True)
    with open(INITDB_TEMPLATES / f"{key[:16]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            building = Path(tempfile.mkdtemp(prefix=f"{key[:16]}.building-", dir=INITDB_TEMPLATES))
            try:
                if os.geteuid() == 0:
                    pw = pwd.getpwnam(PG_USER)
                    os.chown(building, pw.pw_uid, pw.pw_gid)
                subprocess.run(
                    _as_pg_user([str(initdb), "-D", str(building / "data"), *INITDB_ARGS]),
                    check=True,
                    capture_output=True,
                    text=True,
                )
                building.chmod(0o755)
                building.rename(template)
            finally:
                shutil.rmtree(building, ignore_errors=True)
    return template / "data"


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so that no outgoing
    connection (the tests open many) can take it before PostgreSQL binds it,
    and reserved (`_reserve`) so that no other test worker is given it."""
    for _ in range(400):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if _reserve(port):
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def wait_for(predicate, timeout: float, what: str):
    """Polls until `predicate()` is truthy and returns its value. The
    timeout is a deadline that detects a hang, not an assertion on speed."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.25)
    return value


def _as_pg_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["sudo", "-u", PG_USER, "--", *cmd]
    return cmd


@dataclass(frozen=True)
class FsUsage:
    """statvfs() of a filesystem, in bytes."""

    size: int
    used: int
    available: int  # f_bavail: what a non-root process can still use


def fs_usage(path: Path | str) -> FsUsage:
    st = os.statvfs(path)
    return FsUsage(
        size=st.f_blocks * st.f_frsize,
        used=(st.f_blocks - st.f_bfree) * st.f_frsize,
        available=st.f_bavail * st.f_frsize,
    )


def dir_files_bytes(path: Path) -> int:
    """The bytes of the regular files directly in `path` (not in its
    subdirectories), as pg_walrus counts pg_wal. Files that vanish while we
    look (a checkpoint removing or renaming segments) are skipped."""
    total = 0
    with os.scandir(path) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return total


class WalSampler:
    """Samples pg_wal's size (and its filesystem's use) every `interval`
    seconds in a background thread, from start() (or `with`) to stop(), and
    keeps the peaks: what a test that never looked at the right moment would
    miss."""

    def __init__(self, cluster: Cluster, interval: float = 0.2):
        self.cluster = cluster
        self.interval = interval
        self.peak_pg_wal = 0
        self.peak_fs_used = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="wal-sampler")

    def _sample(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.peak_pg_wal = max(self.peak_pg_wal, self.cluster.pg_wal_bytes())
            if self.cluster.wal_mount is not None:
                self.peak_fs_used = max(self.peak_fs_used, self.cluster.wal_fs_usage().used)
            self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self._sample()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Cluster:
    """One initdb'd, started PostgreSQL cluster."""

    def __init__(
        self,
        version: str,
        settings: dict[str, str] | None = None,
        preload: bool = True,
        name: str = "walrus",
        standby_of: Cluster | None = None,
        wal_fs_mb: int | None = None,
    ):
        self.version = str(version)
        self.bindir = pg_bindir(self.version)
        if not (self.bindir / "initdb").exists():
            raise RuntimeError(f"PostgreSQL {version} is not installed at {self.bindir}; run scripts/setup.sh")
        self.root = Path(tempfile.mkdtemp(prefix=f"{name}-pg{self.version}-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "server.log"
        self.port = free_port()
        self.wal_mount: Path | None = None
        self.started = False
        try:
            if os.geteuid() == 0:
                pw = pwd.getpwnam(PG_USER)
                os.chown(self.root, pw.pw_uid, pw.pw_gid)
            waldir = []
            if wal_fs_mb is not None:
                self._mount_wal_fs(wal_fs_mb)
                waldir = ["--waldir", str(self.wal_mount / "pg_wal")]
            if standby_of is None and not waldir:
                # cp -a keeps the owner (PG_USER) and the data directory's 0700.
                subprocess.run(
                    ["cp", "-a", str(initdb_template(self.bindir)), str(self.datadir)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
            elif standby_of is None:
                self._run([str(self.bindir / "initdb"), "-D", str(self.datadir), *INITDB_ARGS, *waldir])
            else:
                # A streaming standby: a base backup of the running primary with
                # standby.signal, primary_conninfo and primary_slot_name written
                # by -R. The physical slot (-C) keeps every segment the standby
                # has not received: without it, the primary's checkpoints may
                # recycle the segment the standby starts streaming from, or one
                # a WAL burst outran it by, and it never catches up.
                self._run(
                    [
                        str(self.bindir / "pg_basebackup"),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(standby_of.port),
                        "-U",
                        "postgres",
                        "-D",
                        str(self.datadir),
                        "-R",
                        "-C",
                        "-S",
                        f"walrus_standby_{self.port}",
                        "-X",
                        "stream",
                        "--no-sync",
                        *waldir,
                    ]
                )
        except BaseException:
            self._remove_files()
            raise
        base = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "log_line_prefix": "'%m [%p] %b: '",
            "log_checkpoints": "on",
            "fsync": "off",
        }
        if preload:
            base["shared_preload_libraries"] = "'pg_walrus'"
        base.update(settings or {})
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("\n# pg_walrus test settings\n")
            conf.writelines(f"{key} = {value}\n" for key, value in base.items())

    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(_as_pg_user(cmd), check=check, capture_output=True, text=True)

    # --- pg_wal on a filesystem of its own -------------------------------------
    def _mount_wal_fs(self, megabytes: int) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("wal_fs_mb needs root: it mounts a tmpfs")
        mount = self.root / "walfs"
        mount.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}M,mode=0700", "tmpfs", str(mount)],
            check=True,
            capture_output=True,
            text=True,
        )
        self.wal_mount = mount
        pw = pwd.getpwnam(PG_USER)
        os.chown(mount, pw.pw_uid, pw.pw_gid)

    def _unmount_wal_fs(self) -> None:
        if self.wal_mount is None:
            return
        mount = str(self.wal_mount)
        # A process that outlived the stop may still hold a file open on it:
        # a lazy unmount detaches it now and frees it when that one exits.
        if subprocess.run(["umount", mount], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        self.wal_mount = None

    def _remove_files(self) -> None:
        try:
            self._unmount_wal_fs()
        finally:
            if not os.environ.get("WALRUS_KEEP_CLUSTERS"):
                shutil.rmtree(self.root, ignore_errors=True)

    @property
    def waldir(self) -> Path:
        """The real pg_wal directory (on the WAL filesystem if there is one)."""
        if self.wal_mount is not None:
            return self.wal_mount / "pg_wal"
        return self.datadir / "pg_wal"

    def wal_fs_usage(self) -> FsUsage:
        """statvfs() of the filesystem pg_wal is on."""
        return fs_usage(self.waldir)

    def pg_wal_bytes(self) -> int:
        """The bytes of the regular files in pg_wal/ (not archive_status/ or
        summaries/), as pg_walrus measures it."""
        return dir_files_bytes(self.waldir)

    def sample_wal(self, interval: float = 0.2) -> WalSampler:
        """`with cluster.sample_wal() as sampler:` ... sampler.peak_pg_wal."""
        return WalSampler(self, interval)

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> Cluster:
        # -t 180: the whole e2e suite starts its clusters at once on two cores.
        for attempt in range(5):
            result = self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    "180",
                    "start",
                ],
                check=False,
            )
            if result.returncode == 0:
                self.started = True
                return self
            if "Address already in use" not in self.log() or attempt == 4:
                raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}\n{self.log()[-3000:]}")
            # Another test took the port between our check and the bind.
            self.port = free_port()
            with open(self.datadir / "postgresql.conf", "a") as conf:
                conf.write(f"port = {self.port}\n")
        raise AssertionError("unreachable")

    def stop(self, mode: str = "fast") -> None:
        if not self.started:
            return
        offset = self.log_offset()
        result = self._run(
            [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"], check=False
        )
        self.started = False
        if result.returncode == 0 and mode != "immediate":
            # pg_ctl returns once postmaster.pid is gone, but the postmaster
            # removes that file *before* it logs its last line (UnlinkLockFiles
            # in miscinit.c), so on a loaded machine the log can still be short
            # of the shutdown's end. Wait for it, so callers read a whole log.
            self.wait_for_log(r"database system is shut down", 30, after=offset)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        try:
            # A postmaster we lost track of (pg_ctl start timed out, yet the
            # server came up) is stopped too: its pg_wal may be a mount.
            if (self.datadir / "postmaster.pid").exists():
                self.started = True
            self.stop("immediate")
        finally:
            self._remove_files()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # --- SQL -----------------------------------------------------------------
    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def connect(self, dbname: str = "postgres", user: str = "postgres", autocommit: bool = True):
        return psycopg.connect(self.dsn(dbname, user), autocommit=autocommit)

    def sql(self, query: str, params=None, dbname: str = "postgres", user: str = "postgres"):
        """Runs one statement in its own connection; returns all rows (or [])."""
        with self.connect(dbname, user) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def one(self, query: str, params=None, **kw):
        rows = self.sql(query, params, **kw)
        return rows[0][0] if rows else None

    def setting(self, name: str) -> str:
        return self.one("SELECT current_setting(%s)", (name,))

    def worker_pid(self) -> int | None:
        return self.one("SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_walrus'")

    def requested_checkpoints(self) -> int:
        if int(self.version) >= 17:
            return self.one("SELECT num_requested FROM pg_stat_checkpointer")
        return self.one("SELECT checkpoints_req FROM pg_stat_bgwriter")

    def generate_wal(self, megabytes: int, table: str = "walrus_load", conn=None) -> None:
        """Writes roughly `megabytes` of WAL with plain inserts (no CHECKPOINT),
        on `conn` if given (a load that must not pause to reconnect)."""
        rows = megabytes * 1024 * 1024 // 560
        with contextlib.nullcontext(conn) if conn is not None else self.connect() as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id bigint, payload text)")
            db.execute(f"INSERT INTO {table} SELECT g, repeat(md5(g::text), 16) FROM generate_series(1, %s) g", (rows,))

    def pgbench_args(self) -> list[str]:
        """pgbench's connection options for this cluster."""
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def pgbench_init(self, scale: int) -> None:
        """pgbench's tables at `scale`, then a CHECKPOINT: the load that
        follows starts from a clean slate."""
        pgbench = str(self.bindir / "pgbench")
        subprocess.run(
            [pgbench, "-i", "-s", str(scale), "-q", *self.pgbench_args(), "postgres"],
            check=True,
            capture_output=True,
            timeout=900,
        )
        self.one("CHECKPOINT")

    def preload_walrus(self, settings: dict[str, str] | None = None, ready: str = r"pg_walrus: baseline taken") -> None:
        """Preloads pg_walrus from a restart on (with `settings` appended to
        postgresql.conf), creates the extension and waits for `ready` in the
        log (the worker's baseline, a DEBUG1 line, by default). The benchmarks
        load their data first, then call this: the load that follows starts
        with the worker's first interval."""
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write("shared_preload_libraries = 'pg_walrus'\n")
            conf.writelines(f"{key} = {value}\n" for key, value in (settings or {}).items())
        offset = self.log_offset()
        self.restart()
        self.sql("CREATE EXTENSION pg_walrus")
        self.wait_for_log(ready, 30, after=offset)

    def pgbench_load(self, clients: int, seconds: int) -> subprocess.Popen:
        """TPC-B from `clients` for `seconds`, in the background."""
        return subprocess.Popen(
            [
                str(self.bindir / "pgbench"),
                "-c",
                str(clients),
                "-j",
                "2",
                "-T",
                str(seconds),
                *self.pgbench_args(),
                "postgres",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def auto_conf(self) -> str:
        return self._run(["cat", str(self.datadir / "postgresql.auto.conf")]).stdout

    def pg_regress(self, inputdir: Path, outputdir: Path, tests: list[str]):
        """Runs PostgreSQL's own pg_regress against this cluster, in a fresh
        database, with sql/ and expected/ under inputdir; returns the
        CompletedProcess (its diffs are in outputdir)."""
        regress = Path(pg_config(self.version, "pkglibdir")) / "pgxs/src/test/regress/pg_regress"
        outputdir.mkdir(parents=True, exist_ok=True)
        # --use-existing leaves database creation to us.
        self.sql("DROP DATABASE IF EXISTS walrus_regress")
        self.sql("CREATE DATABASE walrus_regress")
        return subprocess.run(
            [
                str(regress),
                "--use-existing",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--user=postgres",
                f"--bindir={self.bindir}",
                f"--inputdir={inputdir}",
                f"--outputdir={outputdir}",
                "--dbname=walrus_regress",
                *tests,
            ],
            check=False,  # the caller reads returncode and the diffs
            capture_output=True,
            text=True,
        )

    # --- the extension's catalog ----------------------------------------------
    # Everything a DBA or pg_dump can tell about pg_walrus's SQL objects, as
    # text rows: an upgraded database and a fresh install must agree on each.
    EXTENSION_CATALOG: ClassVar[dict[str, str]] = {
        "members": """
            SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
            WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
              AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_walrus')""",
        "extension": """
            SELECT n.nspname || ' relocatable=' || e.extrelocatable
                   || ' dumped=' || coalesce((SELECT string_agg(c::regclass::text || ':' || w, ',' ORDER BY 1)
                                              FROM unnest(e.extconfig, e.extcondition) AS d(c, w)), '')
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_walrus'""",
        "schema": """
            SELECT nspname || ' owner=' || pg_get_userbyid(nspowner) || ' acl=' || coalesce(nspacl::text, '')
                   || ' comment=' || coalesce(obj_description(oid, 'pg_namespace'), '')
            FROM pg_namespace WHERE nspname = 'walrus'""",
        "functions": """
            SELECT p.oid::regprocedure::text || ' (' || pg_get_function_arguments(p.oid) || ') -> '
                   || coalesce(pg_get_function_result(p.oid), '') || ' kind=' || p.prokind::text
                   || ' volatile=' || p.provolatile::text || ' strict=' || p.proisstrict
                   || ' secdef=' || p.prosecdef || ' parallel=' || p.proparallel::text
                   || ' lang=' || l.lanname || ' symbol=' || CASE WHEN l.lanname = 'c' THEN p.prosrc ELSE '' END
                   || ' body=' || CASE WHEN l.lanname = 'c' THEN '' ELSE md5(p.prosrc) END
                   || ' config=' || coalesce(p.proconfig::text, '') || ' acl=' || coalesce(p.proacl::text, '')
                   || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
            FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.pronamespace = 'walrus'::regnamespace""",
        "relations": """
            SELECT c.relname || ' kind=' || c.relkind::text || ' acl=' || coalesce(c.relacl::text, '')
                   || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '')
            FROM pg_class c WHERE c.relnamespace = 'walrus'::regnamespace""",
        "columns": """
            SELECT c.relname || '.' || a.attname || ' #' || a.attnum || ' ' || format_type(a.atttypid, a.atttypmod)
                   || ' notnull=' || a.attnotnull || ' identity=' || a.attidentity::text
                   || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
                   || ' acl=' || coalesce(a.attacl::text, '')
                   || ' comment=' || coalesce(col_description(c.oid, a.attnum), '')
            FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
            WHERE c.relnamespace = 'walrus'::regnamespace AND c.relkind IN ('r', 'v', 'p')""",
        "constraints": """
            SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
            FROM pg_constraint WHERE connamespace = 'walrus'::regnamespace""",
        "indexes": """
            SELECT pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'walrus'::regnamespace)""",
    }

    def extension_catalog(self, dbname: str) -> dict[str, list[str]]:
        """pg_walrus's SQL objects in `dbname`, by kind, each kind sorted."""
        return {
            kind: sorted(row[0] for row in self.sql(query, dbname=dbname))
            for kind, query in self.EXTENSION_CATALOG.items()
        }

    # --- the server log ------------------------------------------------------
    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float, after: int = 0) -> re.Match:
        """Waits until `pattern` matches the log after byte offset `after`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.log(), after)
            if match:
                return match
            if time.monotonic() > deadline:
                tail = self.log()[-3000:]
                raise AssertionError(f"log never matched {pattern!r} within {timeout}s; tail:\n{tail}")
            time.sleep(0.25)

    def log_offset(self) -> int:
        return len(self.log())
