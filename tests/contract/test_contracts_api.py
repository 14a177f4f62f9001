"""The kit's public surface, and the wall between it and the mock."""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

import contracts
from mockserver.extras import CONTRACTS, install_command


def test_the_public_api_is_exactly_what_all_lists() -> None:
    assert contracts.__all__ == sorted(contracts.__all__)
    assert contracts.__all__ == [
        "Broken",
        "CHECKS",
        "ClientBroke",
        "ClientReport",
        "Contract",
        "ContractViolation",
        "Exchange",
        "FuzzApp",
        "FuzzScript",
        "InvalidRequest",
        "Lifecycle",
        "LiveApp",
        "Request",
        "Response",
        "ServerReport",
        "UnknownCheck",
        "check_client",
        "check_names",
        "check_server",
        "from_invalid_request",
        "from_lifecycle",
        "from_request",
        "from_response",
        "from_schema",
        "fuzz_client",
        "load_contract",
        "register_schemathesis_checks",
    ]
    for name in contracts.__all__:
        assert getattr(contracts, name).__doc__, f"{name} has no docstring"
    public = {name for name in vars(contracts) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(contracts, name)).__name__ == "module"}
    assert public - modules - {"annotations", "hypothesis", "schemathesis"} == set(
        contracts.__all__
    )


def test_the_implementation_is_in_private_modules() -> None:
    package = pathlib.Path(contracts.__file__).parent
    public = sorted(path.stem for path in package.glob("[!_]*.py"))
    assert public == ["checks", "cli", "tolerances"]


def test_the_strategies_and_checks_take_keyword_only_options() -> None:
    import inspect

    expected = {
        "from_request": ["operation_id"],
        "from_invalid_request": ["operation_id"],
        "from_response": ["operation_id", "status"],
        "from_lifecycle": [],
        "from_schema": ["schema"],
        "check_server": ["server"],
        "register_schemathesis_checks": ["checks"],
    }
    for name, names in expected.items():
        parameters = inspect.signature(getattr(contracts, name)).parameters.values()
        positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional == names, name


def test_the_mock_imports_neither_the_kit_nor_its_engines() -> None:
    code = (
        "import sys, mockserver.http.app, mockserver.cli, mockserver.serving.server; "
        "import mockserver.serving.pytest_plugin; "
        "print(sorted(m for m in ('contracts', 'hypothesis', 'schemathesis') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_cli_says_once_how_to_add_the_kit_when_it_cannot_load() -> None:
    code = (
        "import sys; sys.modules['schemathesis'] = None\n"
        "from mockserver.cli import main\n"
        "sys.exit(main(['check-server', 'http://127.0.0.1:9'], environ={}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == (
        "bfl-mock check-server: the contract kit needs hypothesis and schemathesis "
        "(import of schemathesis halted; None in sys.modules); "
        f"add them with: {install_command(CONTRACTS)}\n"
    )


EDITABLE = {"editable": True}
GENERIC = (
    "pip install '.[contracts]' in a checkout of bfl-mock, "
    "or pip install '<wheel>[contracts]' with a wheel built from one"
)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ({"url": "{checkout}", "dir_info": EDITABLE}, "pip install -e '{checkout}[contracts]'"),
        ({"url": "{checkout}", "dir_info": {}}, "pip install '{checkout}[contracts]'"),
        ({"url": "{wheel}", "archive_info": {}}, "pip install '{wheel}[contracts]'"),
        ({"url": "{checkout}/gone", "dir_info": {}}, GENERIC),
        ({"url": "https://example.org/bfl_mock.whl", "archive_info": {}}, GENERIC),
        (None, GENERIC),
    ],
)  # fmt: skip
def test_the_install_command_names_where_bfl_mock_came_from(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
    origin: dict[str, Any] | None,
    expected: str,
) -> None:
    """bfl-mock is on no index: the extra comes from the checkout or wheel pip recorded."""
    wheel = tmp_path / "bfl_mock-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    paths = {"checkout": str(tmp_path), "wheel": str(wheel)}
    uris = {"checkout": tmp_path.as_uri(), "wheel": wheel.as_uri()}
    recorded = None if origin is None else {**origin, "url": origin["url"].format(**uris)}

    class Installed:
        def read_text(self, name: str) -> str | None:
            assert name == "direct_url.json"
            return None if recorded is None else json.dumps(recorded)

    def distribution(name: str) -> Installed:
        assert name == "bfl-mock"
        return Installed()

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    assert install_command(CONTRACTS) == expected.format(**paths)


def test_serving_works_without_the_kit() -> None:
    code = (
        "import sys; sys.modules['schemathesis'] = sys.modules['hypothesis'] = None\n"
        "from mockserver.cli import main\n"
        "sys.exit(main(['--version']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("bfl-mock ")
