"""The kit's public surface, and the wall between it and the mock."""

from __future__ import annotations

import subprocess
import sys

import pytest

import contracts

pytestmark = [pytest.mark.contracts]


def test_the_public_api_is_exactly_what_all_lists() -> None:
    assert contracts.__all__ == sorted(contracts.__all__)
    assert contracts.__all__ == [
        "BFL_CHECKS",
        "Broken",
        "ClientBroke",
        "ClientReport",
        "Contract",
        "ContractViolation",
        "FuzzApp",
        "InvalidRequest",
        "Lifecycle",
        "Request",
        "ServerReport",
        "check_client",
        "check_server",
        "from_invalid_request",
        "from_lifecycle",
        "from_request",
        "from_response",
        "fuzz_client",
        "load_contract",
    ]
    for name in contracts.__all__:
        assert getattr(contracts, name).__doc__, f"{name} has no docstring"
    public = {name for name in vars(contracts) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(contracts, name)).__name__ == "module"}
    assert public - modules - {"annotations", "hypothesis", "schemathesis"} == set(
        contracts.__all__
    )


def test_strategies_take_keyword_only_options() -> None:
    import inspect

    for name in ("from_request", "from_invalid_request", "from_response", "from_lifecycle"):
        parameters = inspect.signature(getattr(contracts, name)).parameters.values()
        positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert positional in ([], ["operation_id"], ["operation_id", "status"]), name


def test_the_mock_imports_neither_the_kit_nor_its_engines() -> None:
    code = (
        "import sys, mockserver.http.app, mockserver.cli, mockserver.serving.server; "
        "import mockserver.serving.pytest_plugin; "
        "print(sorted(m for m in ('contracts', 'hypothesis', 'schemathesis') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_cli_names_the_extra_when_the_kit_cannot_load() -> None:
    code = (
        "import sys; sys.modules['schemathesis'] = None\n"
        "from mockserver.cli import main\n"
        "sys.exit(main(['check-server', 'http://127.0.0.1:9'], environ={}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "bfl-mock: check-server needs the contract kit: pip install 'bfl-mock[contracts]'"
    )


def test_serving_works_without_the_kit() -> None:
    code = (
        "import sys; sys.modules['schemathesis'] = sys.modules['hypothesis'] = None\n"
        "from mockserver.cli import main\n"
        "sys.exit(main(['--version']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("bfl-mock ")
