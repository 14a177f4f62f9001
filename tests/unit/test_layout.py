"""The layout shows the data flow, and keeps it: no module imports a later stage.

spec -> domain -> state -> render -> http -> serving, with the shared basics (errors,
clock, settings, progress) below them all and the edges (cli, the package's own
``__init__``) above. The contract kit sits above the whole mock.

The tests keep a layout of their own: test_suite_layout.py.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from support import ROOT, imports_of, tree

STAGES = ("base", "spec", "domain", "state", "render", "http", "serving", "edge")
"""In the order data flows; a module may import its own stage and earlier ones."""
BASE_MODULES = {"errors", "clock", "settings", "progress", "extras"}
EDGE_MODULES = {"cli", "__main__", "__init__"}
PACKAGE = ROOT / "mockserver"
LONGEST_MODULE = 400
"""Lines a module may have before it holds more than one job (the review's bar)."""


def stage_of(module: str) -> str:
    """The stage of ``mockserver.x.y`` (or of a module path under mockserver/)."""
    parts = module.split(".")
    if parts[0] != "mockserver":
        return "outside"
    if len(parts) == 1 or parts[1] in EDGE_MODULES:
        return "edge"
    if parts[1] in BASE_MODULES:
        return "base"
    return parts[1]


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    return ".".join(relative.parts)


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_a_later_stage(path: Path) -> None:
    own = stage_of(module_name(path))
    assert own in STAGES, f"{path} is in no stage of the flow"
    later = [
        imported
        for imported in imports_of(path)
        if stage_of(imported) in STAGES and STAGES.index(stage_of(imported)) > STAGES.index(own)
    ]
    assert later == [], f"{module_name(path)} ({own}) imports a later stage: {later}"


def test_a_deliberately_upward_import_is_caught(tmp_path: Path) -> None:
    upward = tmp_path / "upward.py"
    upward.write_text("from mockserver.http.app import create_app\n")
    assert stage_of("mockserver.domain.upward") == "domain"
    assert [m for m in imports_of(upward) if stage_of(m) == "http"] == ["mockserver.http.app"]


def test_modules_stay_small_enough_to_read_in_one_go() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in MODULES
        if (lines := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == {}


def top_level_imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    """The imports run when the module loads (not those inside functions or TYPE_CHECKING)."""
    return [node for node in tree(path).body if isinstance(node, ast.ImportFrom | ast.Import)]


def private_names_imported(path: Path) -> list[str]:
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree(path))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mockserver")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_imports_a_private_name_of_another(path: Path) -> None:
    # A name another module needs is part of its module's interface: no underscore.
    assert private_names_imported(path) == []


def test_a_private_import_is_caught(tmp_path: Path) -> None:
    reaching = tmp_path / "reaching.py"
    reaching.write_text("from mockserver.render.video.planes import _frame_of\n")
    assert private_names_imported(reaching) == ["mockserver.render.video.planes._frame_of"]


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's name -> the modules of ``modules`` it imports as it loads."""
    graph = {}
    for name, path in modules.items():
        needs: set[str] = set()
        for node in top_level_imports(path):
            if isinstance(node, ast.Import):
                needs.update(alias.name for alias in node.names if alias.name in modules)
            elif node.module in modules and node.level == 0:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    needs.add(submodule if submodule in modules else node.module)
        graph[name] = needs - {name}
    return graph


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []


def test_modules_import_one_another_without_a_cycle() -> None:
    modules = {module_name(path).removesuffix(".__init__"): path for path in MODULES}
    assert cycle_in(import_graph(modules)) == []


def test_a_deliberate_cycle_is_caught(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from mockserver.b import B\nA = 1\n")
    (tmp_path / "b.py").write_text("import mockserver.a\nB = 1\n")
    graph = import_graph({"mockserver.a": tmp_path / "a.py", "mockserver.b": tmp_path / "b.py"})
    assert graph == {"mockserver.a": {"mockserver.b"}, "mockserver.b": {"mockserver.a"}}
    assert sorted(set(cycle_in(graph))) == ["mockserver.a", "mockserver.b"]
