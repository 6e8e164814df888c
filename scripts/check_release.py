"""The release checks of docs/releasing.md that a script can make: the
version agrees everywhere it is written, every released version has an
upgrade path to it, and the release notes and Debian changelog have its
entry. Run by scripts/lint.sh; exits non-zero with every problem listed.

    python3 scripts/check_release.py [ROOT]
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def upgrade_path(start: str, goal: str, scripts: set[tuple[str, str]]) -> bool:
    """Whether sql/pg_walrus--A--B.sql scripts lead from `start` to `goal`
    (what ALTER EXTENSION ... UPDATE follows)."""
    reached, frontier = {start}, [start]
    while frontier:
        here = frontier.pop()
        for source, target in scripts:
            if source == here and target not in reached:
                reached.add(target)
                frontier.append(target)
    return goal in reached


def problems(root: Path) -> list[str]:
    found = []
    cargo = (root / "Cargo.toml").read_text()
    version = re.search(r'^\[package\][^\[]*?^version = "([^"]+)"', cargo, re.MULTILINE | re.DOTALL).group(1)

    meta = json.loads((root / "META.json").read_text())
    if meta["version"] != version:
        found.append(f"META.json version {meta['version']} is not Cargo.toml's {version}")
    for name, provided in meta.get("provides", {}).items():
        if provided.get("version") != version:
            found.append(f"META.json provides.{name}.version {provided.get('version')} is not {version}")
        if not (root / provided.get("file", "")).is_file():
            found.append(f"META.json provides.{name}.file {provided.get('file')!r} is not a file of the tree")

    control = (root / "pg_walrus.control").read_text()
    default = re.search(r"^default_version = '([^']+)'", control, re.MULTILINE).group(1)
    if default not in ("@CARGO_VERSION@", version):
        found.append(f"pg_walrus.control default_version {default} is not {version}")

    changelog = (root / "CHANGELOG.md").read_text()
    if not re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d\d-\d\d$", changelog, re.MULTILINE):
        found.append(f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section")
    debian = (root / "scripts" / "debian" / "changelog").read_text().splitlines()[0]
    if not debian.startswith(f"pg-walrus ({version}-1) "):
        found.append(f"scripts/debian/changelog starts with {debian!r}, not the {version}-1 entry")

    scripts = set()
    for path in (root / "sql").glob("pg_walrus--*--*.sql"):
        source, target = path.name.removeprefix("pg_walrus--").removesuffix(".sql").split("--")
        scripts.add((source, target))
    released = [
        p.name.removeprefix("pg_walrus--").removesuffix(".sql") for p in (root / "tests" / "upgrade").glob("*.sql")
    ]
    if version not in released:
        found.append(f"tests/upgrade/pg_walrus--{version}.sql (the generated install script) is missing")
    rows = [line.split() for line in (root / "scripts" / "releases.tsv").read_text().splitlines()]
    packaged = [row[0] for row in rows if row and not row[0].startswith("#")]
    for old in sorted(set(released) | set(packaged), key=version_key):
        if version_key(old) > version_key(version):
            found.append(f"released version {old} is newer than {version}")
        elif old != version and not upgrade_path(old, version, scripts):
            found.append(f"no sql/pg_walrus--*--*.sql path upgrades {old} to {version}")
    for old in packaged:
        if old == version:
            found.append(f"scripts/releases.tsv lists {version}, the version being made (add it after it lands)")
        if f"## [{old}]" not in changelog:
            found.append(f"CHANGELOG.md has no section for released version {old}")
    return found


if __name__ == "__main__":
    listed = problems(ROOT)
    for problem in listed:
        print(f"release check: {problem}", file=sys.stderr)
    sys.exit(1 if listed else 0)
