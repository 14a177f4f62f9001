"""The tests keep to their own layout.

Each module in its suite's folder, which alone marks its suite (conftest.py); unit/
starting no app; none reaching a private name of the package, and none asserting only a
status.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from support import ROOT, SUITES, TESTS, imports_of, suite_markers, tree

OUR_PACKAGES = ("mockserver", "contracts")
TEST_MODULES = sorted((ROOT / "tests").rglob("*.py"))


def is_private(dotted: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in dotted.split("."))


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a name or attribute chain; a call ``a.b(...)`` counts as ``a.b``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def private_names_reached(path: Path) -> list[str]:
    """Private names of our packages ``path`` imports, or reads from what it imported.

    An attribute is followed from the imported name it hangs on (``wire._x``,
    ``mockserver.http.app._x``, ``SampleSigner(...)._x``, ``app = MockApp(); app._x``);
    objects of ours that come from elsewhere (fixtures, return values) are beyond a
    reading of the source alone.
    """
    parsed = tree(path)
    reached: list[str] = []
    bound: dict[str, str] = {}
    for node in ast.walk(parsed):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in OUR_PACKAGES:
                for alias in node.names:
                    name = f"{node.module}.{alias.name}"
                    reached += [name] if is_private(name) else []
                    bound[alias.asname or alias.name] = name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OUR_PACKAGES:
                    reached += [alias.name] if is_private(alias.name) else []
                    local = alias.asname or alias.name.split(".")[0]
                    bound[local] = alias.name if alias.asname else local
    for node in ast.walk(parsed):  # ``app = MockApp(...)``: ``app`` is one of ours too
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            chain = dotted(node.value)
            head, _, rest = (chain or "").partition(".")
            for target in node.targets:
                if head in bound and isinstance(target, ast.Name):
                    bound[target.id] = ".".join(filter(None, (bound[head], rest)))
    for node in ast.walk(parsed):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            chain = dotted(node.value)
            head, _, rest = (chain or "").partition(".")
            if head in bound:
                reached.append(".".join(filter(None, (bound[head], rest, node.attr))))
    return reached


@pytest.mark.parametrize("path", TEST_MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_test_reaches_a_private_name_of_the_package(path: Path) -> None:
    # Tests hold the public behaviour still, so the inside can be rebuilt under them.
    assert private_names_reached(path) == []


def test_a_test_reaching_a_private_name_is_caught(tmp_path: Path) -> None:
    reaching = tmp_path / "test_reaching.py"
    reaching.write_text(
        "import mockserver.http.app\n"
        "import contracts._fuzzing as fuzzing\n"
        "from mockserver.render import wire\n"
        "from mockserver.render.sample_urls import SampleSigner\n"
        "from mockserver.cli import _banner, main\n"
        "def test_it(self):\n"
        "    from contracts.checks import _run\n"
        "    wire._ENCODER\n"
        "    SampleSigner(b's')._signature('p', 'e', 'm')\n"
        "    mockserver.http.app._query_params(b'')\n"
        "    app = mockserver.http.app.create_app()\n"
        "    app._direct_routes()\n"
        "    wire.json_response, self._mine, main.__doc__, fuzzing.FuzzScript\n"
    )
    assert sorted(private_names_reached(reaching)) == [
        "contracts._fuzzing",
        "contracts.checks._run",
        "mockserver.cli._banner",
        "mockserver.http.app._query_params",
        "mockserver.http.app.create_app._direct_routes",
        "mockserver.render.sample_urls.SampleSigner._signature",
        "mockserver.render.wire._ENCODER",
    ]


SUITE_FOLDERS = {(suite,) for suite in SUITES} | {("contract", "property")}
"""Where a test module may live: a suite's folder, or the contract kit's property tests."""


def collected_modules(tests: Path) -> list[Path]:
    """The modules pytest collects under ``tests`` (it never looks into node_modules)."""
    return sorted(path for path in tests.rglob("test_*.py") if "node_modules" not in path.parts)


def outside_the_suites(tests: Path) -> list[str]:
    return [
        str(path.relative_to(tests))
        for path in collected_modules(tests)
        if path.relative_to(tests).parts[:-1] not in SUITE_FOLDERS
    ]


def test_every_test_module_lives_in_a_suite_folder() -> None:
    assert outside_the_suites(TESTS) == []


def test_a_test_module_outside_the_suites_is_caught(tmp_path: Path) -> None:
    for module in ("test_loose.py", "misc/test_odd.py", "unit/deeper/test_deep.py",
                   "unit/test_fine.py", "contract/property/test_fine_too.py"):  # fmt: skip
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).write_text("")
    assert outside_the_suites(tmp_path) == [
        "misc/test_odd.py",
        "test_loose.py",
        "unit/deeper/test_deep.py",
    ]


def test_the_folder_gives_the_suite_marker() -> None:
    assert suite_markers(TESTS / "unit" / "test_x.py") == []
    assert suite_markers(TESTS / "http" / "test_x.py") == []
    assert suite_markers(TESTS / "contract" / "test_x.py") == ["contracts"]
    assert suite_markers(TESTS / "property" / "test_x.py") == ["property"]
    assert suite_markers(TESTS / "contract" / "property" / "test_x.py") == ["contracts", "property"]
    assert suite_markers(ROOT / "property" / "test_x.py") == []  # not a test of ours


SERVING = ("starlette.testclient", "mockserver.http.app", "mockserver.serving", "httpx",
           "subprocess", "uvicorn")  # fmt: skip
"""What starts the app, a server or a process, or speaks HTTP: not for unit tests."""
APP_FIXTURES = ("client", "make_client", "bfl_mock", "pytester")


def served(path: Path) -> list[str]:
    """The imports and fixtures of ``path`` that start an app, a server or a process."""
    imports = [
        module
        for module in imports_of(path)
        if any(module == name or module.startswith(f"{name}.") for name in SERVING)
    ]
    fixtures = [
        argument.arg
        for node in ast.walk(tree(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for argument in node.args.args
        if argument.arg in APP_FIXTURES
    ]
    return sorted(imports) + fixtures


UNIT_MODULES = [path for path in collected_modules(TESTS) if path.parent == TESTS / "unit"]


@pytest.mark.parametrize("path", UNIT_MODULES, ids=lambda path: path.name)
def test_unit_tests_start_no_app(path: Path) -> None:
    # Those that do are http/'s: the folder says what a test needs to run.
    assert served(path) == []


def test_a_unit_test_starting_an_app_is_caught(tmp_path: Path) -> None:
    module = tmp_path / "test_serving.py"
    module.write_text(
        "import subprocess\n"
        "from starlette.testclient import TestClient\n"
        "from mockserver.serving.server import MockServer\n"
        "def test_it(make_client, tmp_path): ...\n"
    )
    assert served(module) == [
        "mockserver.serving.server",
        "starlette.testclient",
        "subprocess",
        "make_client",
    ]


SUITE_MARKS = ("pytest.mark.property", "pytest.mark.contracts")


def suite_marks(path: Path) -> list[str]:
    """Suite markers ``path`` sets by hand, where its folder is the one source of them."""
    return [
        chain
        for node in ast.walk(tree(path))
        if isinstance(node, ast.Attribute) and (chain := dotted(node)) in SUITE_MARKS
    ]


@pytest.mark.parametrize(
    "path", collected_modules(TESTS), ids=lambda path: str(path.relative_to(TESTS))
)
def test_no_test_module_marks_its_own_suite(path: Path) -> None:
    assert suite_marks(path) == []


def test_a_suite_marked_by_hand_is_caught(tmp_path: Path) -> None:
    marking = tmp_path / "test_marking.py"
    marking.write_text(
        "import pytest\n"
        "pytestmark = [pytest.mark.contracts]\n"
        "@pytest.mark.property\n"
        "@pytest.mark.parametrize('x', [1])\n"
        "def test_it(x): ...\n"
    )
    assert sorted(suite_marks(marking)) == ["pytest.mark.contracts", "pytest.mark.property"]


STATUS_FIELDS = ("status_code", "status")
OTHER_CHECKS = ("assert", "raises", "fnmatch")
"""Calls that check something themselves: ``pytest.raises``, ``result.assert_outcomes``..."""


def compares_only_statuses(check: ast.expr) -> bool:
    """Whether an assert's test reads statuses and nothing else but constants.

    What a comprehension runs over does not count (``[r.status_code for r in sent]``
    reads only statuses).
    """
    reads = [n for n in ast.walk(check) if isinstance(n, ast.Attribute) and n.attr in STATUS_FIELDS]
    skipped = {
        id(inner)
        for node in ast.walk(check)
        if node in reads or isinstance(node, ast.comprehension)
        for inner in ast.walk(node)
    }
    return bool(reads) and not any(
        isinstance(node, ast.Name | ast.Attribute | ast.Call | ast.Subscript)
        for node in ast.walk(check)
        if id(node) not in skipped
    )


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def status_only_tests(path: Path) -> list[str]:
    """Tests whose every assert compares only statuses: the answer itself goes unread."""
    found = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test_"
        ):
            asserts = [inner.test for inner in ast.walk(node) if isinstance(inner, ast.Assert)]
            checks = [
                inner
                for inner in ast.walk(node)
                if isinstance(inner, ast.Call) and called_name(inner).startswith(OTHER_CHECKS)
            ]
            if asserts and not checks and all(map(compares_only_statuses, asserts)):
                found.append(node.name)
    return found


@pytest.mark.parametrize(
    "path", collected_modules(TESTS), ids=lambda path: str(path.relative_to(TESTS))
)
def test_no_test_asserts_only_a_status(path: Path) -> None:
    # A status alone passes for any body: the exact answer is what a client relies on.
    assert status_only_tests(path) == []


def test_a_test_asserting_only_a_status_is_caught(tmp_path: Path) -> None:
    module = tmp_path / "test_statuses.py"
    module.write_text(
        "def test_only_a_status(client):\n"
        "    assert client.get('/x').status_code == 200\n"
        "def test_statuses_in_a_row(client):\n"
        "    assert [client.get('/x').status_code for _ in range(2)] == [200, 429]\n"
        "    answer = client.get('/y')\n"
        "    assert answer.status_code in (200, 201) and answer.status != 500, answer.text\n"
        "async def test_awaited(client):\n"
        "    assert (await client.get('/x')).status_code == 404\n"
        "def test_status_and_body(client):\n"
        "    answer = client.get('/x')\n"
        "    assert (answer.status_code, answer.json()) == (200, {})\n"
        "def test_status_and_a_raise(client):\n"
        "    assert client.get('/x').status_code == 200\n"
        "    with pytest.raises(KeyError):\n"
        "        client.cookies['gone']\n"
        "def test_status_and_outcomes(result):\n"
        "    assert result.ret.status == 0\n"
        "    result.assert_outcomes(passed=1)\n"
    )
    assert status_only_tests(module) == [
        "test_only_a_status",
        "test_statuses_in_a_row",
        "test_awaited",
    ]
