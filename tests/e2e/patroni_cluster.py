"""A real Patroni cluster on loopback for the end-to-end tests: one etcd
(Debian's etcd-server, 3.4, through Patroni's `etcd3` section) and one to
three Patroni members (Patroni from PyPI, in the test venv), each running
PostgreSQL with pg_walrus preloaded. Every port is free and on 127.0.0.1,
every wait is bounded, and `close()` stops everything (also when a test
fails half-way).

Patroni 4.1 raises a `ttl` below 20 s to 20 s, so losing the leader costs
about 20 s before a replica takes over; `loop_wait` and `retry_timeout` are
short so that Patroni applies configuration changes within seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path
from typing import Self

import psycopg

from pgcluster import PG_USER, free_port, pg_bindir

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
PATRONI = Path(sys.executable).with_name("patroni")
# The REST API's Basic-auth user; the password is made up per cluster.
API_USER = "walrus"
# Patroni's own loop: short, so a PATCH reaches every member within seconds.
LOOP_WAIT = 2
RETRY_TIMEOUT = 5
TTL = 20


def wait_until(predicate, timeout: float, what: str, interval: float = 0.5):
    """Polls until `predicate()` is truthy and returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, psycopg.Error, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam(PG_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["sudo", "-u", PG_USER, "--", *cmd] if os.geteuid() == 0 else cmd


class Member:
    """One Patroni member and the PostgreSQL it runs."""

    def __init__(self, cluster: PatroniCluster, name: str):
        self.cluster = cluster
        self.name = name
        self.root = cluster.root / name
        self.root.mkdir()
        _chown(self.root)
        self.datadir = self.root / "data"
        self.pg_log = self.root / "log" / "postgresql.log"
        self.patroni_log = self.root / "patroni.log"
        self.port = free_port()
        self.api_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def config(self) -> dict:
        cluster = self.cluster
        return {
            "scope": cluster.scope,
            "namespace": "/walrus-tests/",
            "name": self.name,
            "restapi": {
                "listen": f"127.0.0.1:{self.api_port}",
                "connect_address": f"127.0.0.1:{self.api_port}",
                "authentication": {"username": API_USER, "password": cluster.api_password},
            },
            "etcd3": {"hosts": [f"127.0.0.1:{cluster.etcd_port}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1024 * 1024 * 1024,
                    "postgresql": {"use_pg_rewind": False, "parameters": cluster.parameters},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}, {"auth": "trust"}],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{self.port}",
                "connect_address": f"127.0.0.1:{self.port}",
                "data_dir": str(self.datadir),
                "bin_dir": str(pg_bindir(cluster.version)),
                "pgpass": str(self.root / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "walrus-superuser"},
                    "replication": {"username": "replicator", "password": "walrus-replicator"},
                },
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication replicator 127.0.0.1/32 trust",
                ],
                # This node's own settings: where its Patroni listens, and
                # where its server logs.
                "parameters": {
                    "unix_socket_directories": str(self.root),
                    "logging_collector": "on",
                    "log_directory": str(self.root / "log"),
                    "log_filename": "postgresql.log",
                    "log_line_prefix": "%m [%p] %b: ",
                    "walrus.patroni_url": self.api,
                    **cluster.member_parameters,
                },
            },
        }

    def start(self) -> None:
        """Starts Patroni and waits until its REST API answers. Another test
        may take the API's port between free_port() and Patroni's bind (the
        whole suite starts clusters at once): then it starts again on
        another port."""
        for _attempt in range(5):
            self._launch()
            if wait_until(self._api_up_or_port_lost, 60, f"{self.name}'s REST API") == "up":
                return
            self.api_port = free_port()
        raise AssertionError(f"Patroni on {self.name} found no free port for its REST API")

    def _launch(self) -> None:
        config = self.root / "patroni.yml"
        # YAML is a superset of JSON.
        config.write_text(json.dumps(self.config(), indent=2))
        _chown(config)
        with open(self.patroni_log, "ab") as log:
            self.process = subprocess.Popen(
                _as_pg_user([str(PATRONI), str(config)]),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _api_up_or_port_lost(self) -> str | None:
        if self.process.poll() is not None and "Couldn't start a service" in _tail(self.patroni_log):
            return "port lost"
        self.running()
        try:
            with urllib.request.urlopen(f"{self.api}/liveness", timeout=2):
                return "up"
        except urllib.error.HTTPError:
            return "up"

    def running(self) -> bool:
        """True while Patroni runs; a Patroni that exited fails the wait at once."""
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"Patroni on {self.name} is not running; its log:\n{_tail(self.patroni_log)}")
        return True

    # --- PostgreSQL ------------------------------------------------------------
    def connect(self, autocommit: bool = True):
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} dbname=postgres user=postgres connect_timeout=5",
            autocommit=autocommit,
        )

    def sql(self, query: str, params=None):
        with self.connect() as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def one(self, query: str, params=None):
        rows = self.sql(query, params)
        return rows[0][0] if rows else None

    def max_wal_size(self) -> tuple[int, str]:
        """max_wal_size in MB and the file that sets it."""
        row = self.sql("SELECT setting::int, sourcefile FROM pg_settings WHERE name = 'max_wal_size'")[0]
        return row[0], row[1]

    def read_data_file(self, name: str) -> str:
        """A file of the data directory (mode 0700, the cluster user's), read
        as that user; empty when it is missing."""
        return subprocess.run(
            _as_pg_user(["cat", str(self.datadir / name)]), capture_output=True, text=True, check=False
        ).stdout

    def auto_conf(self) -> str:
        return self.read_data_file("postgresql.auto.conf")

    def log(self) -> str:
        try:
            return self.pg_log.read_text(errors="replace")
        except (FileNotFoundError, PermissionError):
            return ""

    def log_offset(self) -> int:
        return len(self.log())

    def wait_for_log(self, pattern: str, timeout: float, after: int = 0) -> re.Match:
        regex = re.compile(pattern)
        try:
            return wait_until(lambda: regex.search(self.log(), after), timeout, f"{pattern!r} in {self.name}'s log")
        except AssertionError as error:
            raise AssertionError(f"{error}; tail:\n{self.log()[-3000:]}") from None

    def is_primary(self) -> bool:
        return self.one("SELECT NOT pg_is_in_recovery()") is True

    def postmaster_pid(self) -> int | None:
        try:
            return int(self.read_data_file("postmaster.pid").split()[0])
        except (ValueError, IndexError):
            return None

    # --- stopping -----------------------------------------------------------------
    def kill_patroni(self) -> None:
        """SIGKILL to Patroni alone: its PostgreSQL keeps running, unmanaged."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def kill(self) -> None:
        """The whole node dies at once: Patroni and its postmaster."""
        self._kill_patroni_then_postmaster(signal.SIGKILL)

    def stop(self) -> None:
        """Patroni killed, then an immediate shutdown of its postmaster."""
        self._kill_patroni_then_postmaster(signal.SIGQUIT)

    def _kill_patroni_then_postmaster(self, postmaster_signal: int) -> None:
        # The pid first: Patroni gone, nothing tells it any more.
        pid = self.postmaster_pid()
        self.kill_patroni()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, postmaster_signal)


class PatroniCluster:
    """etcd and `members` Patroni members; the first one bootstraps."""

    def __init__(
        self,
        version: str,
        parameters: dict[str, str],
        members: int = 2,
        api_password: str | None = None,
        auth_password: str | None = None,
        member_parameters: dict[str, str] | None = None,
    ):
        self.version = str(version)
        self.root = Path(tempfile.mkdtemp(prefix=f"walrus-patroni-pg{self.version}-"))
        _chown(self.root)
        self.scope = self.root.name
        self.api_password = api_password or f"api-{os.urandom(6).hex()}"
        # The credentials file pg_walrus reads: the server's OS user's, 0600.
        self.auth_file = self.root / "patroni-auth"
        self.auth_file.write_text(f"{API_USER}:{auth_password or self.api_password}\n")
        self.auth_file.chmod(0o600)
        _chown(self.auth_file)
        self.parameters = {"walrus.patroni_auth_file": str(self.auth_file), **parameters}
        self.member_parameters = member_parameters or {}
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.etcd: subprocess.Popen | None = None
        self.members = [Member(self, f"m{i}") for i in range(1, members + 1)]

    def start(self) -> PatroniCluster:
        try:
            self._start_etcd()
            first = self.members[0]
            first.start()
            wait_until(lambda: first.running() and first.is_primary(), 180, "the first member to bootstrap as leader")
            for member in self.members[1:]:
                member.start()
            for member in self.members[1:]:
                wait_until(
                    lambda m=member: m.running() and self.member_state(m) == "streaming",
                    240,
                    f"{member.name} to stream",
                )
        except BaseException as error:
            logs = self.logs()
            self.close()
            raise AssertionError(f"the Patroni cluster did not come up: {error}\n{logs}") from error
        return self

    def _start_etcd(self) -> None:
        data = self.root / "etcd"
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        with open(self.root / "etcd.log", "ab") as log:
            self.etcd = subprocess.Popen(
                [
                    ETCD,
                    "--name",
                    "walrus",
                    "--data-dir",
                    str(data),
                    "--listen-client-urls",
                    client,
                    "--advertise-client-urls",
                    client,
                    "--listen-peer-urls",
                    peer,
                    "--initial-advertise-peer-urls",
                    peer,
                    "--initial-cluster",
                    f"walrus={peer}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def healthy():
            with urllib.request.urlopen(f"{client}/health", timeout=2) as response:
                return json.load(response).get("health") == "true"

        wait_until(healthy, 60, "etcd to be healthy")

    # --- the REST API ----------------------------------------------------------------
    def api_get(self, path: str, member: Member | None = None):
        """GET on a live member's REST API; JSON, or None on an error status."""
        for candidate in [member] if member else self.members:
            try:
                with urllib.request.urlopen(f"{candidate.api}{path}", timeout=3) as response:
                    return json.load(response)
            except urllib.error.HTTPError as error:
                return json.loads(error.read() or b"null")
            except OSError:
                continue
        return None

    def api_patch(self, path: str, body: dict, password: str | None = None) -> int:
        credentials = b64encode(f"{API_USER}:{password or self.api_password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.leader().api}{path}",
            data=json.dumps(body).encode(),
            method="PATCH",
            headers={"Content-Type": "application/json", "Authorization": f"Basic {credentials}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status

    def config_max_wal_size(self) -> str | None:
        """max_wal_size as Patroni's dynamic configuration (GET /config) holds it."""
        config = self.api_get("/config") or {}
        return config.get("postgresql", {}).get("parameters", {}).get("max_wal_size")

    def member_state(self, member: Member) -> str | None:
        cluster = self.api_get("/cluster") or {}
        return next((m.get("state") for m in cluster.get("members", []) if m.get("name") == member.name), None)

    def leader(self) -> Member:
        cluster = self.api_get("/cluster") or {}
        name = next((m["name"] for m in cluster.get("members", []) if m.get("role") == "leader"), None)
        member = next((m for m in self.members if m.name == name), None)
        if member is None:
            raise AssertionError(f"no leader in {cluster}")
        return member

    def replicas(self) -> list[Member]:
        leader = self.leader()
        return [m for m in self.members if m is not leader]

    # --- the end -------------------------------------------------------------------------
    def close(self) -> None:
        # No clean shutdown needed: Patroni goes at once, each postmaster
        # gets an immediate shutdown (SIGQUIT).
        for member in self.members:
            try:
                member.stop()
            except (OSError, subprocess.SubprocessError) as error:
                # Best effort: the rest must stop too.
                print(f"could not stop {member.name}: {error}")
        if self.etcd and self.etcd.poll() is None:
            os.killpg(self.etcd.pid, signal.SIGTERM)
            try:
                self.etcd.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.etcd.pid, signal.SIGKILL)
        # Postmasters whose Patroni was killed stop on SIGQUIT; give them a moment.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(m.postmaster_pid()) for m in self.members):
            time.sleep(0.5)
        if os.environ.get("WALRUS_KEEP_PATRONI"):
            print(f"kept {self.root}")
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        """Every log, for a failure's report."""
        parts = []
        for member in self.members:
            parts.append(f"--- {member.name} patroni ---\n{_tail(member.patroni_log)}")
            parts.append(f"--- {member.name} postgresql ---\n{member.log()[-4000:]}")
        parts.append(f"--- etcd ---\n{_tail(self.root / 'etcd.log')}")
        return "\n".join(parts)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            # pytest shows a failing test's output: what each node's worker
            # said, and the logs' tails, before they are removed.
            try:
                for member in self.members:
                    lines = [line for line in member.log().splitlines() if "pg_walrus:" in line]
                    print(f"--- {member.name}: pg_walrus lines (last 80 of {len(lines)}) ---")
                    print("\n".join(lines[-80:]))
                print(self.logs())
            except OSError as error:
                print(f"could not read the logs: {error}")
        self.close()


def _alive(pid: int | None) -> bool:
    """Whether `pid` (read once: postmaster.pid may go between two reads, as
    a stopping postmaster removes it) is a live process; None is not."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return "(none)"
