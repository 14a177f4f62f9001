"""The layout shows the data flow, and keeps it: no module imports a later stage.

spec -> domain -> state -> render -> http -> serving, with the shared basics (errors,
clock, settings, progress) below them all and the edges (cli, the package's own
``__init__``) above. The contract kit sits above the whole mock.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import ROOT

STAGES = ("base", "spec", "domain", "state", "render", "http", "serving", "edge")
"""In the order data flows; a module may import its own stage and earlier ones."""
BASE_MODULES = {"errors", "clock", "settings", "progress", "extras"}
EDGE_MODULES = {"cli", "__main__", "__init__"}
PACKAGE = ROOT / "mockserver"
LONGEST_MODULE = 400
"""Lines a module may have before it holds more than one job (the review's bar)."""
STILL_LONG = {
    "render/responses.py",
    "http/handlers.py",
}
"""Modules past the bar today, each to be split by its jobs (issue 14); none may join."""


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


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


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
    assert set(long) == STILL_LONG, long  # a module split leaves the list too
