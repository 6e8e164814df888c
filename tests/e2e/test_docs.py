"""The configuration reference (docs/configuration.md) against the live
pg_settings catalogue: every setting documented, and every documented
default, range, unit and context true."""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
# The type column's words for pg_settings.vartype.
KINDS = {"bool": "bool", "int": "integer", "real": "real", "enum": "enum", "string": "string"}


def documented():
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\|\s*`(walrus\.[a-z_]+)`\s*\|([^|]+)\|([^|]+)\|([^|]*)\|([^|]+)\|", line)
        if m:
            rows[m.group(1)] = tuple(cell.strip() for cell in m.groups()[1:])
    return rows


def number(text):
    return float(text.replace(" ", ""))


# Tier 2: the settings of the build that ships (a test build has one more,
# walrus.test_clock_hold).
@pytest.mark.realtime
def test_configuration_reference_matches_pg_settings(make_cluster):
    cluster = make_cluster()
    live = {
        r[0]: r[1:]
        for r in cluster.sql(
            "SELECT name, vartype, boot_val, min_val, max_val, unit, context FROM pg_settings WHERE name LIKE 'walrus.%'"
        )
    }
    docs = documented()
    assert set(docs) == set(live), f"undocumented: {set(live) - set(docs)}, stale: {set(docs) - set(live)}"
    for name, (kind, default, range_, context) in docs.items():
        vartype, boot, min_val, max_val, unit, live_context = live[name]
        assert context.split()[0] == live_context, name
        assert KINDS[kind.split(",")[0]] == vartype, (name, kind, vartype)
        if unit:
            assert unit in kind, f"{name}: unit {unit} not documented"
        # The default: the number in parentheses if given, else the literal.
        m = re.search(r"\((\d+)\)", default)
        value = m.group(1) if m else default.strip("`").split()[0].strip("`")
        value = "" if value == "empty" else value
        if vartype in ("integer", "real"):
            assert number(value) == number(boot), (name, default, boot)
        else:
            assert value == (boot or ""), (name, default, boot)
        r = re.match(r"^([\d.]+) \.\. ([\d.]+)", range_)
        if vartype in ("integer", "real"):
            assert r, f"{name}: no documented range"
            assert (number(r.group(1)), number(r.group(2))) == (number(min_val), number(max_val)), (name, range_)
