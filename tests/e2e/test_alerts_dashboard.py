"""The Prometheus alerts (docs/monitoring/alerts.yml), their promtool unit
tests and the Grafana dashboard (docs/monitoring/grafana-dashboard.json):
promtool accepts the rules and every dashboard expression, the unit tests
pass, and every metric they use is one pg_walrus exports (src/api/metrics.rs),
used as its type allows. No PostgreSQL cluster: these use no cluster fixture.

Grafana itself is not installed here (no registry this project reaches has
it), so the dashboard is checked as JSON and PromQL, not rendered."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "docs" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
ALERTS_TEST = MONITORING / "alerts_test.yml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
METRICS_RS = ROOT / "src" / "api" / "metrics.rs"

# Series of the exporter itself, not of pg_walrus, that an alert may use.
EXPORTER_METRICS = {"pg_up"}
# Grafana's variables, replaced by values PromQL accepts before promtool parses
# the dashboard's expressions.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "1m",
    "$__range": "1h",
    "${instance}": ".*",
    "$instance": ".*",
}
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring", "group_left", "group_right"}
RANGE_FUNCTIONS = ("rate", "irate", "increase", "resets")


def exported_metrics():
    """{name: "gauge" | "counter"} from src/api/metrics.rs's collect(), the
    source of truth (docs/monitoring.md's table may lag behind it)."""
    found = re.findall(r'\b(gauge|counter)\(\s*"(walrus_[a-z_]+)"', METRICS_RS.read_text())
    metrics = {name: kind for kind, name in found}
    assert len(metrics) == len(found), "a metric name appears twice in src/api/metrics.rs"
    assert len(metrics) >= 20 and "walrus_max_wal_size_bytes" in metrics, f"parsed too few metrics: {metrics}"
    return metrics


def metric_names(expr):
    """The metric names a PromQL expression selects: identifiers outside
    label matchers, ranges, strings and grouping clauses that are not
    functions, aggregations or keywords."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+\S+", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # the exponent of a number such as 1e3
        if re.match(r"\s*\(", e[m.end() :]) or m.group().lower() in PROMQL_KEYWORDS | {"inf", "nan"}:
            continue
        names.add(m.group())
    return names


def type_misuse(expr, metrics):
    """Counters outside rate()/increase(), gauges inside them."""
    wrong = []
    for name, kind in metrics.items():
        for m in re.finditer(rf"\b{name}\b", expr):
            in_range_function = re.search(rf"\b(?:{'|'.join(RANGE_FUNCTIONS)})\(\s*$", expr[: m.start()])
            if (kind == "counter") != bool(in_range_function):
                wrong.append(f"{kind} {name}")
    return wrong


def promtool(*args):
    binary = shutil.which("promtool")
    assert binary, "promtool not found (Debian package prometheus; scripts/setup.sh installs it)"
    return subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def alert_rules():
    """[{name, expr, text}] from alerts.yml: a small reader for its own layout
    (`- alert:` items, `expr:` inline or as a block scalar), cross-checked
    against promtool's rule count in test_promtool_checks_the_alert_rules."""
    rules = []
    lines = ALERTS.read_text().splitlines()
    for i, line in enumerate(lines):
        if m := re.match(r"^\s*- alert:\s*(\S+)\s*$", line):
            rules.append({"name": m.group(1), "expr": None, "lines": []})
        if not rules:
            continue
        rules[-1]["lines"].append(line)
        if m := re.match(r"^(\s*)expr:\s*(.*)$", line):
            indent, value = len(m.group(1)), m.group(2).strip()
            if value in (">", ">-", "|", "|-"):
                block = []
                for following in lines[i + 1 :]:
                    if following.strip() and len(following) - len(following.lstrip()) <= indent:
                        break
                    block.append(following.strip())
                value = " ".join(part for part in block if part)
            rules[-1]["expr"] = value.strip("'\"")
    for rule in rules:
        rule["text"] = "\n".join(rule.pop("lines"))
        assert rule["expr"], f"{rule['name']}: no expr found"
    return rules


def unit_test_cases():
    """{test case name: [(alertname, fires)]} from alerts_test.yml: whether
    each `alert_rule_test` entry expects alerts (exp_alerts) or none."""
    cases = {}
    for chunk in re.split(r"(?m)^  - name:", ALERTS_TEST.read_text())[1:]:
        name = chunk.splitlines()[0].strip()
        entries = []
        for entry in re.split(r"(?m)^\s*- eval_time:", chunk)[1:]:
            alertname = re.search(r"(?m)^\s*alertname:\s*(\S+)", entry).group(1)
            entries.append((alertname, bool(re.search(r"(?m)^\s*exp_alerts:\s*$", entry))))
        cases[name] = entries
    return cases


def dashboard_panels(panels):
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def dashboard_expressions():
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard_panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]


def substitute_grafana_variables(expr):
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"an unsubstituted Grafana variable in {expr}"
    return expr


def test_metric_name_reader():
    assert metric_names('increase(walrus_failed_total{instance=~"$instance"}[$__rate_interval]) >= 1.5') == {
        "walrus_failed_total"
    }
    assert metric_names("pg_up == 1 unless on(instance, job) walrus_max_wal_size_bytes") == {
        "pg_up",
        "walrus_max_wal_size_bytes",
    }
    assert metric_names("sum by (job) (rate(a_total[5m] offset 1h)) / ignoring(x) b * 1e3 + absent(c)") == {
        "a_total",
        "b",
        "c",
    }
    counters = {"walrus_failed_total": "counter", "walrus_dry_run": "gauge"}
    assert type_misuse("walrus_failed_total > 0 and rate(walrus_dry_run[5m]) > 0", counters) == [
        "counter walrus_failed_total",
        "gauge walrus_dry_run",
    ]
    assert type_misuse("increase(walrus_failed_total[1h]) > 0 and walrus_dry_run == 1", counters) == []


def test_promtool_checks_the_alert_rules():
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"SUCCESS: (\d+) rules found", result.stdout)
    assert found and int(found.group(1)) == len(alert_rules()), result.stdout
    assert "WARNING" not in (result.stdout + result.stderr).upper(), result.stdout + result.stderr


def test_promtool_unit_tests_pass():
    result = promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0 and "SUCCESS" in result.stdout + result.stderr, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_silent():
    names = {rule["name"] for rule in alert_rules()}
    cases = unit_test_cases()
    tested = {alertname for entries in cases.values() for alertname, _ in entries}
    assert tested == names, f"untested: {names - tested}, unknown: {tested - names}"
    for name in sorted(names):
        fires = [case for case, entries in cases.items() if (name, True) in entries]
        silent = [
            case
            for case, entries in cases.items()
            if any(alertname == name for alertname, _ in entries) and (name, True) not in entries
        ]
        assert fires, f"{name}: no unit test in which it fires"
        assert silent, f"{name}: no unit test in which it stays silent on a healthy series"


def test_alerts_use_only_exported_metrics_as_their_types_allow():
    metrics = exported_metrics()
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        walrus = {name for name in used if name.startswith("walrus_")}
        assert walrus, f"{rule['name']} uses no pg_walrus metric: {rule['expr']}"
        assert walrus <= set(metrics), f"{rule['name']}: not in src/api/metrics.rs: {walrus - set(metrics)}"
        assert used - walrus <= EXPORTER_METRICS, f"{rule['name']}: unknown metrics {used - walrus}"
        assert not type_misuse(rule["expr"], metrics), (rule["name"], type_misuse(rule["expr"], metrics))


def test_alerts_have_severity_and_tell_the_dba_what_to_do():
    for rule in alert_rules():
        text = rule["text"]
        assert re.search(r"(?m)^\s*severity:\s*(warning|critical)\s*$", text), f"{rule['name']}: severity"
        assert re.search(r"(?m)^\s*summary:", text), f"{rule['name']}: summary"
        description = text.split("description:", 1)[-1]
        assert "description:" in text and "`SELECT " in description, f"{rule['name']}: no SQL to run"


def test_dashboard_structure():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] == 39 and dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    instance = variables["instance"]
    assert instance["type"] == "query" and instance["multi"] and instance["includeAll"]
    assert instance["query"]["query"] == instance["definition"] == "label_values(walrus_max_wal_size_bytes, instance)"
    panels = list(dashboard_panels(dashboard["panels"]))
    rows = [p for p in panels if p["type"] == "row"]
    assert rows and all(row.get("repeat") == "instance" for row in rows)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert source == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    kinds = {p["type"] for p in panels}
    assert {"stat", "timeseries"} <= kinds


def test_promtool_parses_every_dashboard_expression(tmp_path):
    expressions = dashboard_expressions()
    assert len(expressions) >= 10
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard_expr_{i}", "expr": substitute_grafana_variables(expr)}
                    for i, (_, expr) in enumerate(expressions)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules, indent=2))  # JSON is YAML
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout, result.stdout


def test_dashboard_shows_every_metric_filtered_by_instance():
    metrics = exported_metrics()
    used = set()
    for title, expr in dashboard_expressions():
        names = metric_names(expr)
        assert names and names <= set(metrics), f"{title}: not in src/api/metrics.rs: {names - set(metrics)}"
        assert not type_misuse(expr, metrics), (title, type_misuse(expr, metrics))
        for name in names:
            assert re.search(rf'\b{name}\{{instance=~"\$instance"\}}', expr), f"{title}: {name} not filtered"
        windows = re.findall(r"\[([^\]]*)\]", expr)
        assert all(window in ("$__rate_interval", "$__range") for window in windows), (title, windows)
        used |= names
    assert used == set(metrics), f"metrics missing from the dashboard: {set(metrics) - used}"


@pytest.mark.parametrize("path", [ALERTS, ALERTS_TEST, DASHBOARD], ids=lambda p: p.name)
def test_monitoring_doc_links_the_file(path):
    assert f"monitoring/{path.name}" in (ROOT / "docs" / "monitoring.md").read_text()
