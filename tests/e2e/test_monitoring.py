"""The shipped monitoring files against real tools: Debian's
prometheus-postgres-exporter (0.11.1) scraping a live cluster through
docs/monitoring/postgres_exporter.yaml, a real Prometheus server scraping that
exporter, and the generated files against the live catalogue
(scripts/gen_monitoring.py), so that they cannot drift from walrus.metrics().

Every process runs on 127.0.0.1, on a free port, and is stopped in `finally`.
"""

import contextlib
import difflib
import json
import math
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

import gen_monitoring
from conftest import HOLD_CYCLE, RESIZED, cluster_with_extension, wait_for
from pgcluster import free_port

# Tier 2 (scripts/test.sh): real time is what these prove, on the release build.
pytestmark = pytest.mark.realtime

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "docs" / "monitoring"
EXPORTER_QUERIES = MONITORING / gen_monitoring.POSTGRES_EXPORTER
GEN = ROOT / "scripts" / "gen_monitoring.py"
# The WAL disk guard off: sizes up to walrus.max, as in test_worker_grows.py.
GUARD_OFF = {"walrus.max_wal_disk_fraction": "0"}
# Readings of the WAL disk: they follow the free space of a filesystem the
# whole suite writes to, so they may move between two reads of an idle server.
DISK_READINGS = {
    "walrus_wal_disk_available_bytes",
    "walrus_disk_ceiling_bytes",
    "walrus_effective_ceiling_bytes",
    "walrus_disk_limits_growth",
}


# --- processes -------------------------------------------------------------------------
@dataclass
class Served:
    """A process listening on 127.0.0.1:port; its output goes to `log`."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def http_get(url: str, timeout: float = 10) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read().decode()
    except OSError:
        return None


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


@contextlib.contextmanager
def serve(name, command, tmp_path, ready, timeout=90, env=None):
    """Runs command(port) on a free port until `ready(served)` is truthy and
    yields the Served; stops it on the way out. A process that exits before
    it is ready (another test took the port between our check and its bind)
    is started again on another port, three times at most."""
    for attempt in range(3):
        port = free_port()
        log = tmp_path / f"{name}-{attempt}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(
                command(port), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        served = Served(name, port, log, process)
        try:
            deadline = time.monotonic() + timeout
            while process.poll() is None and not ready(served):
                assert time.monotonic() < deadline, f"{name} not ready within {timeout}s:\n{served.output()}"
                time.sleep(0.25)
            if process.poll() is None:
                yield served
                return
        finally:
            stop(process)
        if "address already in use" not in served.output().lower():
            break
    raise AssertionError(f"{name} exited with {process.returncode}:\n{served.output()}")


def postgres_exporter(cluster, tmp_path):
    """Debian's prometheus-postgres-exporter with the shipped custom query
    and nothing else (as an operator would run it for pg_walrus alone)."""
    env = {
        "DATA_SOURCE_NAME": f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres?sslmode=disable",
        "PATH": "/usr/bin:/bin",
    }

    def command(port):
        return [
            "prometheus-postgres-exporter",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--extend.query-path={EXPORTER_QUERIES}",
            "--disable-default-metrics",
            "--disable-settings-metrics",
        ]

    # Ready once a scrape has our series: the exporter connects at scrape time.
    def ready(served):
        body = http_get(f"{served.url}/metrics", timeout=30)
        return body is not None and re.search(r"^walrus_max_wal_size_bytes\{", body, re.MULTILINE)

    return serve("postgres_exporter", command, tmp_path, ready, env=env)


def prometheus(target: Served, tmp_path):
    """A Prometheus server scraping `target` every second."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: walrus\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target.port}']\n"
    )
    storage = tmp_path / "prometheus-data"

    def command(port):
        return [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]

    return serve("prometheus", command, tmp_path, lambda s: http_get(f"{s.url}/-/ready", timeout=5) is not None)


# --- reading the exposition ------------------------------------------------------------
@dataclass
class Family:
    help: str | None = None
    type: str | None = None
    samples: list[tuple[dict[str, str], float]] | None = None


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def walrus_lines(body: str) -> str:
    """The lines of a scrape that are about walrus_ metrics."""
    keep = [
        line for line in body.splitlines() if line.startswith("walrus_") or re.match(r"# (HELP|TYPE) walrus_", line)
    ]
    return "\n".join(keep) + "\n"


def families(body: str) -> dict[str, Family]:
    """The walrus_ families of a text exposition: help, type, samples."""
    out: dict[str, Family] = {}
    for line in walrus_lines(body).splitlines():
        if m := re.match(r"# (HELP|TYPE) (\S+) ?(.*)$", line):
            family = out.setdefault(m.group(2), Family(samples=[]))
            if m.group(1) == "HELP":
                assert family.help is None, f"two HELP lines for {m.group(2)}"
                family.help = m.group(3)
            else:
                assert family.type is None, f"two TYPE lines for {m.group(2)}"
                family.type = m.group(3)
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = dict(LABEL.findall(m.group(2) or ""))
        out.setdefault(m.group(1), Family(samples=[])).samples.append((labels, float(m.group(3))))
    return out


def escaped_help(text: str) -> str:
    """A help text as the text format writes it (backslash and newline escaped)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def live_values(cluster) -> dict[str, float]:
    return dict(cluster.sql("SELECT name, value FROM walrus.metrics()"))


def promtool_check(text: str) -> None:
    lint = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False, timeout=300
    )
    assert lint.returncode == 0 and lint.stdout.strip() == "" and lint.stderr.strip() == "", (lint, text)


# --- the tests -------------------------------------------------------------------------
def test_postgres_exporter_serves_every_metric_under_its_own_name(make_cluster, tmp_path):
    # The worker's cycle is held: nothing it counts moves between our reads.
    cluster = cluster_with_extension(make_cluster, **HOLD_CYCLE)
    catalogue = {m.name: m for m in gen_monitoring.catalogue(cluster.dsn())}
    with postgres_exporter(cluster, tmp_path) as exporter:
        before = live_values(cluster)
        body = http_get(f"{exporter.url}/metrics", timeout=30)
        after = live_values(cluster)
    assert body is not None
    scraped = families(body)

    # One family per metric, under the same name: none missing, none extra
    # (no walrus_value, no untyped column the mapping does not know).
    assert set(scraped) == set(catalogue), (set(catalogue) ^ set(scraped), walrus_lines(body))
    for name, metric in catalogue.items():
        family = scraped[name]
        # The usage becomes the TYPE; the description is the HELP, verbatim.
        assert family.type == metric.kind, (name, family.type, metric.kind)
        assert family.help == escaped_help(metric.help), (name, family.help, metric.help)
        # One sample, labelled only with the exporter's server label.
        assert len(family.samples) == 1, (name, family.samples)
        labels, value = family.samples[0]
        assert labels == {"server": f"127.0.0.1:{cluster.port}"}, (name, labels)
        assert not math.isnan(value), f"{name}: NaN (no row of that name in walrus.metrics())"

    # Values: the idle server's sizes, settings and counters did not move
    # between the two reads around the scrape, and the exporter saw them.
    moved = {name for name in catalogue if before[name] != after[name]}
    assert moved <= DISK_READINGS, f"the idle server's metrics moved: {moved}"
    for name in set(catalogue) - moved:
        assert scraped[name].samples[0][1] == before[name], (name, scraped[name].samples[0][1], before[name])
    assert scraped["walrus_max_wal_size_bytes"].samples[0][1] == 32 * 1024 * 1024
    assert scraped["walrus_worker_running"].samples[0][1] == 1
    assert scraped["walrus_in_recovery"].samples[0][1] == 0

    # The exporter's walrus_ series pass Prometheus' own linter.
    promtool_check(walrus_lines(body))


def test_shipped_exporter_files_match_the_live_catalogue(make_cluster, tmp_path):
    cluster = make_cluster()
    cluster.sql("CREATE EXTENSION pg_walrus")
    metrics = gen_monitoring.catalogue(cluster.dsn())
    # What scripts/gen_monitoring.py would write now is what is shipped.
    for name, text in gen_monitoring.files(metrics).items():
        shipped = (MONITORING / name).read_text()
        diff = "".join(
            difflib.unified_diff(
                shipped.splitlines(True), text.splitlines(True), f"shipped/{name}", f"generated/{name}"
            )
        )
        assert not diff, f"docs/monitoring/{name} is out of date: run scripts/gen_monitoring.py DSN\n{diff}"
    # The script itself: --check passes on the shipped files; it writes the
    # same files elsewhere; --check fails once one of them differs.
    run = [sys.executable, str(GEN), cluster.dsn()]
    check = subprocess.run([*run, "--check"], capture_output=True, text=True, check=False, timeout=300)
    assert check.returncode == 0, check
    subprocess.run([*run, "--out-dir", str(tmp_path)], capture_output=True, text=True, check=True, timeout=300)
    for name in gen_monitoring.files(metrics):
        assert (tmp_path / name).read_text() == (MONITORING / name).read_text(), name
    with open(tmp_path / gen_monitoring.SQL_EXPORTER, "a") as collector:
        collector.write("# edited by hand\n")
    stale = subprocess.run(
        [*run, "--check", "--out-dir", str(tmp_path)], capture_output=True, text=True, check=False, timeout=300
    )
    assert stale.returncode == 1 and gen_monitoring.SQL_EXPORTER in stale.stderr, stale
    # And the monitoring guide names every metric.
    guide = (ROOT / "docs" / "monitoring.md").read_text()
    undocumented = [m.name for m in metrics if f"`{m.name}`" not in guide]
    assert not undocumented, f"docs/monitoring.md does not mention {undocumented}"


def prometheus_value(server: Served, query: str) -> float | None:
    """The one value of an instant query, or None while there is none."""
    body = http_get(f"{server.url}/api/v1/query?{urllib.parse.urlencode({'query': query})}")
    if body is None:
        return None
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def setting_bytes(cluster) -> float:
    """SHOW max_wal_size, in bytes."""
    return float(cluster.one("SELECT pg_size_bytes(current_setting('max_wal_size'))"))


def test_prometheus_sees_pg_walrus_grow_max_wal_size(make_cluster, tmp_path):
    cluster = cluster_with_extension(make_cluster, **GUARD_OFF)
    catalogue = gen_monitoring.catalogue(cluster.dsn())
    with postgres_exporter(cluster, tmp_path) as exporter, prometheus(exporter, tmp_path) as server:
        initial = setting_bytes(cluster)
        assert initial == 32 * 1024 * 1024
        wait_for(
            lambda: prometheus_value(server, "walrus_max_wal_size_bytes") == initial,
            60,
            f"Prometheus to read walrus_max_wal_size_bytes = {initial}",
        )
        assert prometheus_value(server, 'up{job="walrus"}') == 1

        # Prometheus keeps each metric's type and help as the exporter gave them.
        def metadata():
            body = http_get(f"{server.url}/api/v1/metadata")
            data = json.loads(body)["data"] if body else {}
            return {name: data[name] for name in data if name.startswith("walrus_")}

        meta = wait_for(lambda: len(known := metadata()) == len(catalogue) and known, 30, "the metadata")
        for metric in catalogue:
            assert meta[metric.name] == [{"type": metric.kind, "help": metric.help, "unit": ""}], metric.name

        # A write load: pg_walrus grows max_wal_size, and Prometheus follows.
        start = cluster.log_offset()
        cluster.generate_wal(160)
        resized = cluster.wait_for_log(RESIZED, 90, after=start)
        assert int(resized.group(1)) == 32
        grown = wait_for(lambda: (size := setting_bytes(cluster)) > initial and size, 10, "the new max_wal_size")
        assert grown >= int(resized.group(2)) * 1024 * 1024
        # Within a few scrape intervals (the load may spill into another
        # interval and grow it again: the value is the server's at each look).
        # 60 s, as for the first value: on the crowded CI machine a scrape can
        # overrun its 1 s timeout many times in a row (15 s once was not enough).
        try:
            wait_for(
                lambda: prometheus_value(server, "walrus_max_wal_size_bytes") == setting_bytes(cluster),
                60,
                "Prometheus to read the grown walrus_max_wal_size_bytes",
            )
        except AssertionError as timeout:
            seen = {
                "prometheus": prometheus_value(server, "walrus_max_wal_size_bytes"),
                "server": setting_bytes(cluster),
                "up": prometheus_value(server, 'up{job="walrus"}'),
                "scrape_secs": prometheus_value(server, 'scrape_duration_seconds{job="walrus"}'),
            }
            raise AssertionError(f"{timeout}: {seen}") from None
        assert live_values(cluster)["walrus_increases_total"] >= 1
        wait_for(
            lambda: (
                prometheus_value(server, "walrus_increases_total") == live_values(cluster)["walrus_increases_total"]
            ),
            60,
            "Prometheus to count the increase",
        )
