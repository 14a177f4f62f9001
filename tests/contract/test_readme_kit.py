"""The README on the contract kit: its stance table is the kit's, its examples work as written."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys

import pytest

from contracts import ClientBroke
from contracts.tolerances import OUT_OF_SPEC_STATUSES

from readme import README, code_blocks, section
from support import ROOT


def argv(command: str) -> list[str]:
    """A README command line, run with this interpreter (the venv it shows is activated)."""
    words = shlex.split(command)
    programs = {"bfl-mock": [sys.executable, "-m", "mockserver"], "python": [sys.executable]}
    return [part for word in words for part in programs.get(word, [word])]


def test_stance_table_lists_every_out_of_spec_status() -> None:
    table = README.split("<!-- stance-table")[1].split("<!-- /stance-table -->")[0]
    rows = re.findall(r"^\| (\d{3}) \| ([^|]+) \| ([^|]+) \|$", table, re.MULTILINE)
    assert [(int(status), when.strip()) for status, when, _ in rows] == [
        (rule.status, rule.when) for rule in OUT_OF_SPEC_STATUSES
    ]
    task_bodies = [int(status) for status, _, body in rows if "Task not found" in body]
    assert task_bodies == [rule.status for rule in OUT_OF_SPEC_STATUSES if rule.task_body]


def test_check_server_commands_work_as_written() -> None:
    serve, check, _ = code_blocks(section("1. Check any server"), "sh")[0].splitlines()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    serve_argv = argv(serve.split("&")[0].replace("8765", port))
    server = subprocess.Popen(serve_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done = subprocess.run(
            argv(check.replace("8765", port)), capture_output=True, text=True, timeout=300
        )
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)
    assert done.returncode == 0, done.stdout + done.stderr
    # A plain `bfl-mock serve` takes any key: the check finds that out and says so.
    assert (
        "\n  API keys: any key is taken, as by bfl-mock serve without --api-keys\n" in done.stdout
    )
    assert done.stdout.endswith("PASSED\n")


def test_check_client_command_works_as_written() -> None:
    text = section("2. Check any client")
    (command,) = code_blocks(text, "sh")[0].splitlines()
    shown = code_blocks(text, "")[0].splitlines()
    done = subprocess.run(argv(command), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    output = done.stderr[done.stderr.index("bfl-mock check-client:") :]
    report = output.replace(sys.executable, "python").splitlines()
    assert report[0] == shown[0] and report[2:] == shown[2:]


def test_python_examples_work_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    check_server_example = code_blocks(section("1. Check any server"), "python")[0]
    exec(compile(check_server_example, "README check_server", "exec"), {})
    assert capsys.readouterr().out.rstrip().endswith("PASSED")
    strategies_example = code_blocks(section("5. Strategies for your own property tests"), "python")
    exec(compile(strategies_example[0], "README strategies", "exec"), {})
    fuzz_example = code_blocks(section("4. Response fuzzing: `fuzz_client`"), "python")[0]
    with pytest.raises(ClientBroke) as broke:
        exec(compile(fuzz_example, "README fuzz_client", "exec"), {})
    shown = code_blocks(section("4. Response fuzzing: `fuzz_client`"), "")[0]
    assert (
        f"{type(broke.value).__module__}.ClientBroke: {broke.value}".splitlines()[:2]
        == (shown.splitlines()[:2])
    )


def test_pytest_example_works_as_written(pytester: pytest.Pytester) -> None:
    text = section("3. In pytest: the `bfl_mock` fixture fails a test for off-contract requests")
    pytester.makepyfile(code_blocks(text, "python")[0])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["E *RequestViolation: bfl-mock received 1 off-contract request(s):",
         "E *  POST /v1/flux-pro-1.1 -> 422",
         "E *    body.width: Input should be a multiple of 32 (multiple_of)"]
    )  # fmt: skip


def test_schemathesis_example_works_as_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        code_blocks(section("6. The BFL checks in your own schemathesis"), "python")[0]
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)
