"""Fails when the modules of a Rust crate import each other in a cycle, or
when the extension's layers are crossed.

Layers should read one way: a cycle usually means a type lives in the wrong
file. Reads every module of `src/` and `strategies/src/` (one per file: a
folder's `mod.rs` is the folder's module), collects the `crate::...` paths it
uses outside comments and its unit tests, resolves each to the module that
defines it (names the crate root re-exports, `pub use module::Name`, to their
module), and reports every cycle. A text scan, not a compiler: it is meant to
catch a new cycle in review, cheaply. It reads only paths written from
`crate::` or `super::`: a path through a name imported earlier
(`use crate::patroni;` then `patroni::state::X`) counts as an import of the
folder's module alone.

The extension's layering (src/ only):
- `pg/` (PostgreSQL primitives) imports nothing outside `pg/`;
- nothing outside `worker/` imports `worker/`: the worker runs the features,
  the features never reach into the worker.

    python3 scripts/check_module_cycles.py src strategies/src
"""

import re
import sys
from pathlib import Path

TESTS = re.compile(r"#\[cfg\(test\)\]\s*mod tests")
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
# `crate::`, or `super::` (one or more), the start of a path to resolve.
ANCHOR = re.compile(r"\b(crate|(?:super::)*super)::")
# `pub use a::b::{X, Y};` or `pub use a::b::X;`: the module path, the names.
REEXPORT = re.compile(r"pub use ((?:\w+::)*\w+)::(\{[^}]*\}|\w+);")
# Layer rules for a crate root whose folder is named `src` with a `pg/`:
# (modules the rule applies to, modules they may not import, why).
LAYERS = [
    (
        lambda m: m == "pg" or m.startswith("pg::"),
        lambda t: not (t == "pg" or t.startswith("pg::")),
        "pg/ imports only pg/",
    ),
    (
        lambda m: not (m == "worker" or m.startswith("worker::")),
        lambda t: t == "worker" or t.startswith("worker::"),
        "only worker/ imports worker/",
    ),
]


def code_of(path: Path) -> str:
    text = BLOCK_COMMENT.sub(" ", TESTS.split(path.read_text())[0])
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def module_of(root: Path, path: Path) -> str | None:
    """`pg/stats.rs` is `pg::stats`, `pg/mod.rs` is `pg`; None for the crate
    root, binaries and test-only files."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[0] in ("lib", "main", "bin") or parts[-1] == "tests" or parts[-1].endswith("_tests"):
        return None
    if parts[-1] == "mod":
        parts.pop()
    return "::".join(parts)


def use_paths(text: str, module: str = "") -> list[str]:
    """Every path written after `crate::` (or `super::`, resolved from
    `module`), groups expanded and renames dropped:
    `crate::{pg::clock as c, record::{entry, history}}` gives pg::clock,
    record::entry and record::history."""
    paths = []
    for match in ANCHOR.finditer(text):
        prefix = ""
        if match.group(1) != "crate":
            ups = match.group(1).count("super")
            parts = module.split("::") if module else []
            # A file module's `super` is its folder's module.
            base = parts[: max(0, len(parts) - ups)]
            prefix = "::".join(base) + "::" if base else ""
        paths.extend(_tree(text, match.end(), prefix)[0])
    return paths


def _tree(text: str, i: int, prefix: str) -> tuple[list[str], int]:
    if text.startswith("{", i):
        found, i = [], i + 1
        while i < len(text):
            i = _skip_space(text, i)
            if text.startswith("}", i):
                return found, i + 1
            sub, after = _tree(text, i, prefix)
            found.extend(sub)
            i = _skip_space(text, after)
            if text.startswith(",", i):
                i += 1
            elif after == i and not text.startswith("}", i):
                i += 1  # a token no path starts with: step over it
        return found, i
    ident = re.match(r"(?:r#)?\w+|\*", text[i:])
    if not ident:
        return ([prefix.rstrip(":")] if prefix else []), i
    name, i = ident.group(0).removeprefix("r#"), i + len(ident.group(0))
    path = prefix + name
    if text.startswith("::", i):
        return _tree(text, i + 2, path + "::")
    rename = re.match(r"\s+as\s+\w+", text[i:])
    if rename:
        i += len(rename.group(0))
    if name in ("self", "*"):
        path = prefix.rstrip(":")
    return ([path] if path else []), i


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def module_graph(root: Path) -> dict[str, set[str]]:
    files = {module_of(root, p): p for p in root.rglob("*.rs")}
    files.pop(None, None)
    modules = set(files)
    reexported = {
        name: module
        for module, names in REEXPORT.findall(code_of(root / "lib.rs"))
        for name in re.findall(r"\w+", names)
        if name != "self"
    }
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in files.items():
        for used in use_paths(code_of(path), module):
            target = resolve(used, modules, reexported)
            if target and target != module and not module.startswith(target + "::"):
                graph[module].add(target)
    return graph


def resolve(path: str, modules: set[str], reexported: dict[str, str]) -> str | None:
    """The module `path` names or lies in: its longest prefix that is a
    module, or, for a name at the root, the module that defines it."""
    parts = path.split("::")
    for n in range(len(parts), 0, -1):
        candidate = "::".join(parts[:n])
        if candidate in modules:
            return candidate
    return reexported.get(parts[0])


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()

    def walk(path: list[str]) -> None:
        for target in graph.get(path[-1], ()):
            if target in path:
                cycle = path[path.index(target) :]
                start = cycle.index(min(cycle))  # one spelling per cycle
                found.add(tuple(cycle[start:] + cycle[:start]))
            else:
                walk([*path, target])

    for module in graph:
        walk([module])
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    if "pg" not in graph:
        return []
    return [
        f"{module} imports {target}: {why}"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        for applies, forbidden, why in LAYERS
        if applies(module) and forbidden(target)
    ]


def main(roots: list[str]) -> int:
    failed = False
    for root in roots:
        graph = module_graph(Path(root))
        for cycle in sorted(cycles(graph)):
            print(f"{root}: import cycle: {' -> '.join([*cycle, cycle[0]])}")
            failed = True
        for violation in layer_violations(graph):
            print(f"{root}: layering: {violation}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["src", "strategies/src"]))
