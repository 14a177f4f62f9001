"""Strict recording: a client command runs against the mock, which lists its bad requests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from contracts import check_client
from mockserver.cli import main
from mockserver.settings import MockSettings, Timing

from support import TESTS

ENV_URL, ENV_KEY = "BFL_API_URL", "BFL_API_KEY"
"""Where the command finds the mock's URL and a key, as the README documents."""


CLIENT = str(TESTS / "broken_clients.py")
FAST = MockSettings(timing=Timing.POLLS, polls_until_ready=2, seed=0)


def run(*flaw: str) -> tuple[str, ...]:
    return (sys.executable, CLIENT, *flaw)


def test_a_correct_client_passes() -> None:
    report = check_client(run(), settings=FAST)
    assert report.ok, report.render()
    assert (report.requests, report.returncode, report.exit_code) == (5, 0, 0)
    assert report.render().endswith("  5 request(s), 0 off the contract\nPASSED")


@pytest.mark.parametrize(
    ("flaw", "violations"),
    [
        ("sends_width_1000",
         ["POST /v1/flux-pro-1.1 -> 422\n"
          "    body.width: Input should be a multiple of 32 (multiple_of)"]),
        ("omits_x_key", ["POST /v1/flux-pro-1.1 -> 401\n    401: Not authenticated"]),
    ],
)  # fmt: skip
def test_off_contract_requests_are_listed_with_the_exact_violation(
    flaw: str, violations: list[str]
) -> None:
    report = check_client(run(flaw), settings=FAST)
    assert list(report.off_contract) == violations
    assert (report.returncode, report.exit_code) == (1, 1)  # raise_for_status in the client


def test_a_client_that_ignores_polling_url_is_caught() -> None:
    report = check_client(run("ignores_polling_url"), settings=FAST)
    assert report.returncode == 0 and report.off_contract == ()  # the mock answered it...
    (entry,) = report.unfollowed_polls  # ...but the real API would not have
    first, second = entry.splitlines()
    assert first.startswith("GET /v1/get_result?id=") and first.endswith(" -> 200 (3 times)")
    base = report.base_url.removeprefix("http://")
    polling = report.polling_origin.removeprefix("http://")
    assert second == (
        f"sent to {base}, not to the task's polling_url on {polling}: follow polling_url "
        '(the real API answers "Task not found" off-region)'
    )
    assert report.exit_code == 1


def test_a_client_that_crashes_fails_the_check_with_its_status() -> None:
    report = check_client(run("crashes_on_null_cost"), settings=FAST)
    assert report.violations == () and report.returncode == 1 and report.exit_code == 1
    assert "  the command exited with status 1\nFAILED" in report.render()


def test_the_command_gets_the_url_and_key_in_documented_variables(tmp_path: Path) -> None:
    out = tmp_path / "env"
    code = f"import os; open({str(out)!r}, 'w').write(os.environ[{ENV_URL!r}] + ' ' + os.environ[{ENV_KEY!r}])"  # noqa: E501
    report = check_client([sys.executable, "-c", code], api_key="my-key")
    assert out.read_text() == f"{report.base_url} my-key"
    assert report.requests == 0 and report.exit_code == 0
    assert f"the command sent no request: does it read {ENV_URL}?" in report.render()


def test_a_hanging_command_is_stopped() -> None:
    report = check_client([sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    assert report.timed_out and report.exit_code == 128 + 9
    assert "the command did not finish in time and was stopped" in report.render()


def test_a_missing_command_exits_127() -> None:
    report = check_client(["bfl-mock-no-such-command"])
    assert report.exit_code == 127
    assert "cannot run 'bfl-mock-no-such-command': No such file or directory" in report.render()


def test_the_published_client_does_not_follow_polling_url() -> None:
    """black-forest-labs 1.0.0 rebuilds the poll URL from its base URL: a real finding."""
    code = (
        "import os, black_forest_labs as bfl; c = bfl.Client(base_url=os.environ['BFL_API_URL']); "
        "t = c.generate('flux-pro-1.1', prompt='x')\n"
        "while not t.is_done: t = c.get_result(t.id)"
    )
    report = check_client([sys.executable, "-c", code], settings=FAST)
    assert report.off_contract == () and report.returncode == 0
    assert len(report.unfollowed_polls) == 1 and "(3 times)" in report.unfollowed_polls[0]


def test_check_client_command(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check-client", "--timing", "polls", "--", *run("sends_width_1000")], environ={})
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "  1 request(s), 1 off the contract\n"
        "  1. POST /v1/flux-pro-1.1 -> 422\n"
        "     body.width: Input should be a multiple of 32 (multiple_of)\n"
        "  the command exited with status 1\n"
        "FAILED\n"
    ) in err
    assert main(["check-client", "--timing", "polls", "--", *run()], environ={}) == 0


def test_check_client_command_needs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-client", "--"], environ={}) == 2
    assert "give the client command after --" in capsys.readouterr().err
