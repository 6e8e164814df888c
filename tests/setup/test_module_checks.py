"""scripts/check_module_cycles.py: the lint that keeps the layers reading one
way finds each kind of break it is there for, and passes the real tree."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_module_cycles as check  # noqa: E402


def crate(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "src"
    for name, text in {"lib.rs": "mod pg;\nmod worker;\n", "pg/mod.rs": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_real_tree_passes():
    assert check.main([str(ROOT / "src"), str(ROOT / "strategies/src")]) == 0


def test_a_primitive_that_reaches_up_is_reported(tmp_path):
    root = crate(tmp_path, {"pg/server.rs": "use crate::{guc, pg::clock};\n", "pg/clock.rs": "", "guc.rs": ""})
    graph = check.module_graph(root)
    assert graph["pg::server"] == {"guc", "pg::clock"}
    assert check.layer_violations(graph) == ["pg::server imports guc: pg/ imports only pg/"]


def test_a_feature_that_imports_the_worker_is_reported(tmp_path):
    root = crate(
        tmp_path,
        {"worker/mod.rs": "mod cycle;\n", "worker/cycle.rs": "", "disk/mod.rs": "use crate::worker::cycle::Worker;\n"},
    )
    assert check.layer_violations(check.module_graph(root)) == [
        "disk imports worker::cycle: only worker/ imports worker/"
    ]


def test_a_cycle_across_folders_is_reported_once(tmp_path):
    root = crate(
        tmp_path,
        {
            "apply/mod.rs": "use crate::record::{entry::Entry, history};\n",
            "record/entry.rs": "",
            "record/history.rs": "// crate::apply in a comment does not count\nuse crate::apply::Change;\n",
        },
    )
    assert check.cycles(check.module_graph(root)) == {("apply", "record::history")}
    assert check.main([str(root)]) == 1


def test_renames_comments_and_super_paths_are_read_as_rust_does(tmp_path):
    root = crate(
        tmp_path,
        {
            # A comment inside a group, a raw identifier and a rename: no hang,
            # and `as worker` is a name, not an import of worker/.
            "api.rs": "use crate::{pg::clock as worker, /* guc */ pg::r#server};\n",
            "pg/clock.rs": "",
            "pg/server.rs": "use super::super::guc::Setting;\n",
            "guc.rs": "",
            "worker/mod.rs": "",
        },
    )
    graph = check.module_graph(root)
    assert graph["api"] == {"pg::clock", "pg::server"}
    assert check.layer_violations(graph) == ["pg::server imports guc: pg/ imports only pg/"]


def test_a_name_the_root_reexports_resolves_to_the_module_that_defines_it(tmp_path):
    root = crate(
        tmp_path,
        {
            "lib.rs": "mod pg;\nmod evidence;\npub use evidence::observation::{Observation, Settings};\n",
            "evidence/mod.rs": "pub mod observation;\n",
            "evidence/observation.rs": "use crate::sizing::Thing;\n",
            "sizing.rs": "use crate::Settings;\n",
        },
    )
    assert check.cycles(check.module_graph(root)) == {("evidence::observation", "sizing")}
