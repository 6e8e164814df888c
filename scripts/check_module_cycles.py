"""Fails when the modules of a Rust crate import each other in a cycle.

Layers should read one way: a cycle usually means a type lives in the wrong
file. Reads each top-level module of `src/` and `strategies/src/` (a file or a
folder), collects the `crate::...` paths it uses outside comments and its unit
tests, resolves names the crate root re-exports (`pub use module::Name`) to the
module that defines them, and reports every cycle. A text scan, not a
compiler: it is meant to catch a new cycle in review, cheaply.

    python3 scripts/check_module_cycles.py src strategies/src
"""

import re
import sys
from pathlib import Path

TESTS = re.compile(r"#\[cfg\(test\)\]\s*mod tests")
CRATE_PATH = re.compile(r"crate::(\{[^}]*\}|\w+)")
REEXPORT = re.compile(r"pub use (\w+)::\{?([^;}]*)\}?;")


def code_of(path: Path) -> str:
    text = TESTS.split(path.read_text())[0]
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def module_graph(root: Path) -> dict[str, set[str]]:
    modules = {p.stem if p.is_file() else p.name for p in root.iterdir()} - {"lib", "main", "bin"}
    reexported = {
        name: module
        for module, names in REEXPORT.findall((root / "lib.rs").read_text())
        for name in re.findall(r"\w+", names)
    }
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for path in root.rglob("*.rs"):
        module = path.relative_to(root).with_suffix("").parts[0]
        if module not in modules:
            continue
        for match in CRATE_PATH.finditer(code_of(path)):
            for name in re.findall(r"\w+", match.group(1)):
                target = name if name in modules else reexported.get(name)
                if target and target != module:
                    graph[module].add(target)
    return graph


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


def main(roots: list[str]) -> int:
    failed = False
    for root in roots:
        for cycle in sorted(cycles(module_graph(Path(root)))):
            print(f"{root}: import cycle: {' -> '.join([*cycle, cycle[0]])}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["src", "strategies/src"]))
