"""walrus.apply_via on a single server: `none` only recommends; `patroni`
sends each size as `PATCH /config`, here to a throwaway local HTTP endpoint
standing in where a real Patroni cannot be made to misbehave on cue (a 409
from its compare-and-set, an endpoint that accepts but never applies).
test_patroni.py runs the real thing."""

import json
import os
import pwd
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
from psycopg import sql

from conftest import HELD_CLOCK, advance_clock, cluster_with_extension, max_wal_size_mb, wait_for
from pgcluster import PG_USER

HISTORY = "SELECT action, old_size_mb, new_size_mb, reason, metadata FROM walrus.history ORDER BY id"


class FakePatroni:
    """Answers PATCH /config with the next of `statuses` (the last one
    repeats); a 200 echoes the body as Patroni echoes the new configuration.
    Keeps every request it got."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PATCH(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append((self.path, dict(self.headers), body.decode()))
                status = fake.statuses.pop(0) if len(fake.statuses) > 1 else fake.statuses[0]
                answer = body if status == 200 else b'{"error": "busy"}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def auth_file(cluster, text: str, mode: int = 0o600) -> str:
    """A credentials file owned by the cluster's OS user."""
    path = cluster.root / "patroni-auth"
    path.write_text(text)
    path.chmod(mode)
    pw = pwd.getpwnam(PG_USER)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    return str(path)


def alter_system(cluster, name: str, value: str) -> None:
    """ALTER SYSTEM SET takes no bind parameters: the value as a literal."""
    cluster.sql(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))


def patroni_cluster(make_cluster, url: str, **settings):
    return cluster_with_extension(
        make_cluster,
        **HELD_CLOCK,
        **{"walrus.apply_via": "patroni", "walrus.patroni_url": f"'{url}'", **settings},
    )


def test_apply_via_none_only_recommends(make_cluster):
    cluster = cluster_with_extension(make_cluster, **{"walrus.apply_via": "none"}, **HELD_CLOCK)
    start = cluster.log_offset()
    cluster.generate_wal(160)
    assert advance_clock(cluster, 30)["cycles"] == 1
    line = re.search(
        r"pg_walrus: recommend-only \(walrus\.apply_via is none\): max_wal_size should change from 32 MB to (\d+) MB",
        cluster.log()[start:],
    )
    assert line, cluster.log()[start:]
    rows = wait_for(lambda: cluster.sql(HISTORY), 10, "the history row")
    action, old, new, _, metadata = rows[0]
    assert (action, old, new) == ("skipped", 32, int(line.group(1))), rows
    assert metadata["blocked_by"] == "walrus.apply_via" and metadata["would_apply"] == "increase", metadata
    assert max_wal_size_mb(cluster) == 32
    assert "max_wal_size" not in cluster.auto_conf()
    # analyze(apply := true) says why it did not apply. No cycle comes in
    # between (the clock is held), so the burst is analyze()'s evidence.
    cluster.generate_wal(96)
    result = cluster.one("SELECT walrus.analyze(apply := true)")
    assert result["applied"] is False, result
    assert result["reason"] == "walrus.apply_via is none: pg_walrus only recommends", result
    assert max_wal_size_mb(cluster) == 32
    assert cluster.one("SELECT walrus.status()->>'apply_via'") == "none"


def test_a_conflict_is_retried_once_and_an_unapplied_patch_is_reported(make_cluster):
    with FakePatroni([409, 200]) as patroni:
        cluster = patroni_cluster(make_cluster, patroni.url)
        alter_system(cluster, "walrus.patroni_auth_file", auth_file(cluster, "walrus:s3cret-pw\n"))
        cluster.sql("SELECT pg_reload_conf()")
        cluster.generate_wal(160)
        result = cluster.one("SELECT walrus.analyze(apply := true)")
        assert result["applied"] is True and result["apply_via"] == "patroni", result
        size = result["recommendation"]["recommended_size_mb"]
        # Two requests: the 409, then the retry that took.
        assert len(patroni.requests) == 2, patroni.requests
        for path, headers, body in patroni.requests:
            assert path == "/config"
            assert headers["Authorization"] == "Basic d2FscnVzOnMzY3JldC1wdw==", headers
            assert json.loads(body) == {"postgresql": {"parameters": {"max_wal_size": f"{size}MB"}}}
        action, old, new, _, metadata = cluster.sql(HISTORY)[0]
        assert (action, old, new) == ("increase", 32, size)
        assert metadata["apply_via"] == "patroni" and metadata["patroni"]["attempts"] == 2, metadata
        assert metadata["patroni"]["status"] == 200, metadata
        # This endpoint never writes anything: after an interval the worker
        # says the size did not reach this node, and why.
        start = cluster.log_offset()
        assert advance_clock(cluster, 30)["cycles"] == 1
        warning = re.search(
            rf"WARNING:  pg_walrus: Patroni accepted max_wal_size = {size} MB, but this node still runs with 32 MB: "
            r"this node's postgresql.conf still says 32 MB",
            cluster.log()[start:],
        )
        assert warning, cluster.log()[start:]
        rows = cluster.sql(HISTORY)
        assert rows[-1][0] == "failed" and rows[-1][4]["confirmed"] is False, rows[-1]
        status = cluster.one("SELECT walrus.status()->'patroni'")
        assert status["last_outcome"] == "not_confirmed" and status["patches"] == 1, status
        assert "s3cret" not in cluster.log() and "s3cret" not in str(rows)


def test_a_credentials_file_others_can_read_is_refused(make_cluster):
    with FakePatroni([200]) as patroni:
        cluster = patroni_cluster(make_cluster, patroni.url)
        path = auth_file(cluster, "walrus:s3cret-pw\n", mode=0o644)
        alter_system(cluster, "walrus.patroni_auth_file", path)
        cluster.sql("SELECT pg_reload_conf()")
        cluster.generate_wal(160)
        result = cluster.one("SELECT walrus.analyze(apply := true)")
        assert result["applied"] is False, result
        assert "walrus.patroni_auth_file has group or world access (mode 0644)" in result["reason"], result
        assert patroni.requests == [], "nothing may be sent with credentials others can read"
        action, *_, metadata = cluster.sql(HISTORY)[0]
        assert action == "failed" and "group or world access" in metadata["error"], metadata
        assert path not in str(metadata), "the file's name stays in the superuser-only setting"
        assert max_wal_size_mb(cluster) == 32


def test_an_unreachable_patroni_fails_within_seconds(make_cluster):
    with FakePatroni([200]) as patroni:
        url = patroni.url
    # Nothing listens there any more.
    cluster = patroni_cluster(make_cluster, url)
    cluster.generate_wal(160)
    result = cluster.one("SELECT walrus.analyze(apply := true)")
    assert result["applied"] is False, result
    assert "Patroni's REST API is unreachable: could not connect" in result["reason"], result
    assert cluster.sql(HISTORY)[0][0] == "failed"
    status = cluster.one("SELECT walrus.status()->'patroni'")
    assert status["last_outcome"] == "failed" and status["failures"] == 1, status


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("https://127.0.0.1:8008", "HTTPS is not supported"),
        ("http://walrus:pw@127.0.0.1:8008", "credentials do not belong in the URL"),
        ("http://patroni.example:8008", "the host must be an IP address or localhost"),
        ("http://127.0.0.1:70000", "the port must be a number from 1 to 65535"),
    ],
)
def test_unusable_urls_are_refused(make_cluster, url, detail):
    cluster = make_cluster()
    with pytest.raises(psycopg.errors.InvalidParameterValue) as error:
        alter_system(cluster, "walrus.patroni_url", url)
    assert detail in (error.value.diag.message_detail or ""), error.value.diag.message_detail
    assert "walrus.patroni_url" not in cluster.auto_conf()


def test_only_superusers_see_the_credentials_file_setting(make_cluster):
    cluster = make_cluster({"walrus.patroni_auth_file": "'/etc/walrus/patroni-auth'"})
    cluster.sql("CREATE ROLE reader LOGIN")
    assert cluster.one("SHOW walrus.patroni_auth_file") == "/etc/walrus/patroni-auth"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        cluster.sql("SHOW walrus.patroni_auth_file", user="reader")
    names = [
        r[0] for r in cluster.sql("SELECT name FROM pg_settings WHERE name LIKE 'walrus.patroni%%'", user="reader")
    ]
    assert names == ["walrus.patroni_url"], names
    assert re.fullmatch(r"http://127\.0\.0\.1:8008", cluster.one("SHOW walrus.patroni_url", user="reader"))
