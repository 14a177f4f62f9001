"""Checks selected by name from one vocabulary: the BFL checks' names and schemathesis's."""

from __future__ import annotations

import re

import pytest

from contracts import (
    CHECKS,
    Contract,
    ContractViolation,
    Exchange,
    LiveApp,
    UnknownCheck,
    check_names,
    check_server,
)
from contracts.checks import Needs
from mockserver.cli import main

from broken_servers import BROKEN_SERVERS, KEY, mock, wrong_image_size
from support import BFL_CHECK_NAMES

SEED = 20260423


def test_one_vocabulary_names_the_bfl_checks_then_schemathesiss() -> None:
    names = check_names()
    assert names[:4] == BFL_CHECK_NAMES
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "negative_data_rejection",
        "response_schema_conformance",
        "ignored_auth",
    } <= set(names[4:])


def test_selecting_one_check_runs_only_it() -> None:
    report = check_server(mock(), api_key=KEY, seed=SEED, max_examples=5, lifecycles=2,
                          checks=["ready_sample_is_requested_image"])  # fmt: skip
    assert report.ok, report.render()
    assert report.checks == {"ready_sample_is_requested_image": 2}
    assert sum(report.cases.values()) == 0 and report.keys is None  # schemathesis did not run
    assert report.left_out == tuple(
        n for n in check_names() if n != "ready_sample_is_requested_image"
    )
    text = report.render()
    assert "\n  schemathesis (positive and negative, selected checks): 0 cases\n" in text
    assert f"\n  checks left out: {', '.join(report.left_out)}\n" in text


def test_selecting_a_schemathesis_check_runs_it_alone_with_the_bfl_stance() -> None:
    broken = BROKEN_SERVERS["wrong_status_code"]()
    report = check_server(
        broken, api_key=KEY, seed=SEED, max_examples=5, checks=["status_code_conformance"]
    )
    assert set(report.checks) == {"status_code_conformance (BFL stance)"}
    assert {violation.check for violation in report.violations} == {
        "status_code_conformance (BFL stance)"
    }
    assert report.cases["coverage"] > 0


def test_a_broken_server_is_caught_by_the_named_check_and_not_when_it_is_excluded() -> None:
    caught = check_server(wrong_image_size(), api_key=KEY, seed=SEED, max_examples=5,
                          lifecycles=1, checks=BFL_CHECK_NAMES)  # fmt: skip
    assert [violation.check for violation in caught.violations] == [
        "ready_sample_is_requested_image"
    ]
    assert caught.violations[0].message == (
        "result.sample is 512x768; the request asked for 1024x768"
    )
    passed = check_server(wrong_image_size(), api_key=KEY, seed=SEED, max_examples=5,
                          lifecycles=1, checks=BFL_CHECK_NAMES,
                          exclude_checks=["ready_sample_is_requested_image"])  # fmt: skip
    assert passed.ok, passed.render()
    assert set(passed.checks) == set(BFL_CHECK_NAMES) - {"ready_sample_is_requested_image"}


@pytest.mark.parametrize("excluded", [False, True])
def test_an_unknown_check_name_is_a_clear_error(excluded: bool) -> None:
    with pytest.raises(UnknownCheck) as raised:  # refused before anything is sent
        if excluded:
            check_server("http://127.0.0.1:9", exclude_checks=["ready_sample"])
        else:
            check_server("http://127.0.0.1:9", checks=["ready_sample"])
    assert str(raised.value) == (
        f"unknown check 'ready_sample'; known checks: {', '.join(check_names())}"
    )


def test_check_server_command_selects_and_excludes_checks_by_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    selected = "lifecycle_reaches_final_status,ready_sample_is_requested_image"
    with LiveApp(wrong_image_size()) as live:
        common = ["check-server", live.url, "--api-key", KEY, "--seed", str(SEED),
                  "--max-examples", "5", "--lifecycles", "1", "--poll-interval", "0"]  # fmt: skip
        caught = main([*common, "--checks", selected], environ={})
        caught_out = capsys.readouterr().out
        excluded = ["--exclude-checks", "ready_sample_is_requested_image"]
        passed = main([*common, "--checks", selected, *excluded], environ={})
        passed_out = capsys.readouterr().out
    assert caught == 1, caught_out
    assert "\n    1. ready_sample_is_requested_image [POST /v1/flux-pro-1.1]\n" in caught_out
    assert caught_out.endswith(
        f"reproduce the run: bfl-mock check-server {live.url} --seed {SEED} --max-examples 5 "
        f"--api-key {KEY} --checks {selected}\nFAILED\n"
    )
    assert passed == 0, passed_out
    assert re.search(r"\n    lifecycle_reaches_final_status +1  ok\n", passed_out)
    assert "ready_sample_is_requested_image  " not in passed_out
    assert passed_out.endswith("--exclude-checks ready_sample_is_requested_image\nPASSED\n")


def test_check_server_command_names_the_known_checks_for_an_unknown_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["check-server", "http://127.0.0.1:9", "--checks", "ready_sample"], environ={})
    assert code == 2
    assert capsys.readouterr().err == (
        f"bfl-mock check-server: unknown check 'ready_sample'; known checks: "
        f"{', '.join(check_names())}\n"
    )


def test_a_check_of_ones_own_runs_by_name_beside_the_bfl_checks() -> None:
    def task_id_is_a_uuid(contract: Contract, exchange: Exchange) -> bool:
        """An accepted submit's task id is a UUID."""
        if exchange.response.status != 200:
            return False
        task_id = exchange.response.field("id")
        if not re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", str(task_id)):
            raise ContractViolation(f"task id {task_id!r} is not a UUID")
        return True

    CHECKS.register(needs=Needs.FOLLOWED_SUBMIT)(task_id_is_a_uuid)
    try:
        assert "task_id_is_a_uuid" in check_names()
        report = check_server(mock(), api_key=KEY, seed=SEED, lifecycles=2,
                              checks=["task_id_is_a_uuid"])  # fmt: skip
    finally:
        CHECKS.unregister("task_id_is_a_uuid")
    assert report.ok, report.render()
    assert report.checks == {"task_id_is_a_uuid": 2}
    assert "task_id_is_a_uuid" not in check_names()
    with pytest.raises(UnknownCheck):
        CHECKS.unregister("task_id_is_a_uuid")
