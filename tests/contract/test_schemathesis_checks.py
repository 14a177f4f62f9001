"""The BFL checks inside a user's own schemathesis run: registered by name, selectable."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from schemathesis.checks import CHECKS as SCHEMATHESIS_CHECKS

from contracts import LiveApp, UnknownCheck, register_schemathesis_checks

from broken_servers import KEY, wrong_image_size
from support import ROOT

KIT_CHECKS = (
    "polling_url_is_followable",
    "lifecycle_reaches_final_status",
    "ready_sample_is_requested_image",
    "status_code_conformance_bfl",
    "negative_data_rejection_bfl",
    "positive_data_acceptance_bfl",
    "ignored_auth_any_key",
)


@pytest.fixture
def schemathesis_registry() -> Iterator[None]:
    """The registry of schemathesis as it was before the test, afterwards."""
    before = set(SCHEMATHESIS_CHECKS.get_all_names())
    yield
    for name in set(SCHEMATHESIS_CHECKS.get_all_names()) - before:
        SCHEMATHESIS_CHECKS.unregister(name)


@pytest.mark.usefixtures("schemathesis_registry")
def test_the_kit_registers_its_checks_with_schemathesis_by_name() -> None:
    assert register_schemathesis_checks() == KIT_CHECKS
    assert set(KIT_CHECKS) <= set(SCHEMATHESIS_CHECKS.get_all_names())
    check = SCHEMATHESIS_CHECKS.get_one("lifecycle_reaches_final_status")
    assert check.__doc__ == (
        "Polling a submitted task reaches a final status within a bounded number of polls."
    )


@pytest.mark.usefixtures("schemathesis_registry")
def test_registering_selects_and_excludes_by_name() -> None:
    before = set(SCHEMATHESIS_CHECKS.get_all_names())
    chosen = register_schemathesis_checks(
        ["ready_sample_is_requested_image", "status_code_conformance_bfl"],
        exclude_checks=["status_code_conformance_bfl"],
    )
    assert chosen == ("ready_sample_is_requested_image",)
    assert set(SCHEMATHESIS_CHECKS.get_all_names()) - before == {"ready_sample_is_requested_image"}


def test_registering_an_unknown_check_is_a_clear_error() -> None:
    with pytest.raises(UnknownCheck) as raised:
        register_schemathesis_checks(["validation_error_names_broken_field"])
    assert str(raised.value) == (
        "unknown check 'validation_error_names_broken_field'; known checks: "
        + ", ".join(KIT_CHECKS)
    )


@pytest.mark.usefixtures("schemathesis_registry")
def test_the_checks_leave_an_operation_of_another_api_alone() -> None:
    register_schemathesis_checks()
    elsewhere = SimpleNamespace(operation=SimpleNamespace(method="post", path="/v1/widgets"))
    response: Any = SimpleNamespace(status_code=599, content=b"", headers={})
    for name in KIT_CHECKS:
        check: Any = SCHEMATHESIS_CHECKS.get_one(name)
        assert check(None, response, elsewhere) is None, name


USERS_TEST = """
import os

import schemathesis

from contracts import LiveApp, load_contract, register_schemathesis_checks
import broken_servers

from schemathesis.checks import CHECKS
from schemathesis.specs.openapi.checks import negative_data_rejection, status_code_conformance

# The BFL check, and two built-in checks as BFL's server needs them (a 401, "5" for 5).
register_schemathesis_checks(
    [
        "ready_sample_is_requested_image",
        "status_code_conformance_bfl",
        "negative_data_rejection_bfl",
    ],
    max_polls=10,
    poll_interval=0,
)
LIVE = LiveApp(getattr(broken_servers, os.environ["BFL_SERVER"])()).start()
schema = schemathesis.openapi.from_dict(
    load_contract().plain_document(),
    config=schemathesis.Config.from_dict({
        "base-url": LIVE.url,
        "generation": {"max-examples": 3, "database": "none"},
    }),
)


@schema.include(path="/v1/flux-pro-1.1").parametrize()
def test_submits(case):
    case.call_and_validate(
        headers={"x-key": broken_servers.KEY},
        excluded_checks=[status_code_conformance, negative_data_rejection, *EXCLUDED],
    )
"""


@pytest.mark.parametrize(
    ("server", "excluded", "outcome"),
    [
        ("mock", "[]", {"passed": 1}),
        ("wrong_image_size", "[]", {"failed": 1}),
        ("wrong_image_size", "[CHECKS.get_one('ready_sample_is_requested_image')]", {"passed": 1}),
    ],
)
def test_a_users_schemathesis_test_catches_a_broken_app_with_the_registered_check(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    server: str,
    excluded: str,
    outcome: dict[str, int],
) -> None:
    monkeypatch.setenv("BFL_SERVER", server)
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "tests"))
    excluding = f"EXCLUDED = {excluded}\n"
    pytester.makepyfile(USERS_TEST + excluding)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**outcome)
    if "failed" in outcome:
        result.stdout.fnmatch_lines(
            [
                "*Custom check failed: `ready_sample_is_requested_image`",
                "*result.sample is 512x768; the request asked for 1024x768",
            ]
        )


HOOKS = """
from contracts import register_schemathesis_checks

register_schemathesis_checks(poll_interval=0)
"""


@pytest.mark.parametrize(("checks", "exit_code"), [
    ("ready_sample_is_requested_image,lifecycle_reaches_final_status", 1),
    ("lifecycle_reaches_final_status", 0),
])  # fmt: skip
def test_schemathesis_run_takes_the_checks_from_a_hooks_module(
    tmp_path: Path, checks: str, exit_code: int
) -> None:
    (tmp_path / "bfl_hooks.py").write_text(HOOKS)
    environment = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "SCHEMATHESIS_HOOKS": "bfl_hooks",
        "NO_COLOR": "1",
    }
    with LiveApp(wrong_image_size()) as live:
        done = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", str(ROOT / "openapi.json"),
             "--url", live.url, "-H", f"x-key: {KEY}", "--include-path", "/v1/flux-pro-1.1",
             "--phases", "fuzzing", "--max-examples", "3", "--checks", checks],
            capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300,
        )  # fmt: skip
    assert done.returncode == exit_code, done.stdout + done.stderr
    failure = "result.sample is 512x768; the request asked for 1024x768"
    assert (failure in done.stdout) is bool(exit_code), done.stdout
