"""The server check: the mock passes it, in process and live; every broken server fails it."""

from __future__ import annotations

import asyncio
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from contracts import (
    CHECKS,
    ContractViolation,
    LiveApp,
    Request,
    ServerReport,
    check_server,
    load_contract,
)
from mockserver.cli import main
from mockserver.http.app import create_app
from mockserver.serving.server import MockServer
from mockserver.settings import MockSettings, Timing

from broken_servers import BROKEN_SERVERS, KEY, busy_at_first, mock, settings, wrong_image_size
from support import profile_examples

SEED = 20260423
BROKEN_EXAMPLES = 25
"""A check must catch a broken server quickly: a few examples each."""
SCHEMATHESIS_CHECKS = {
    "not_a_server_error",
    "status_code_conformance (BFL stance)",
    "negative_data_rejection (BFL stance)",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "positive_data_acceptance (BFL stance)",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
}


@pytest.mark.parametrize("published", ["2026-04-23", "2026-10"])
def test_the_mock_serving_each_published_spec_passes_the_server_check(published: str) -> None:
    # Every endpoint, its business rules' 422s and its videos included.
    app = create_app(settings().replace(spec=Path(published)))
    examples = max(5, profile_examples() // 20)
    report = check_server(
        app, api_key=KEY, contract=load_contract(published), seed=SEED, max_examples=examples,
        lifecycles=examples,
    )  # fmt: skip
    assert report.ok, report.render()
    followed = report.checks["ready_sample_is_requested_image"]
    assert followed >= examples, report.checks


def test_the_mock_passes_its_own_server_check() -> None:
    app = mock()
    lifecycles = max(10, profile_examples() // 10)
    report = check_server(
        app, api_key=KEY, seed=SEED, max_examples=profile_examples(), lifecycles=lifecycles
    )
    assert report.ok, report.render()
    assert set(report.checks) == SCHEMATHESIS_CHECKS | set(CHECKS.names())
    assert all(count > 0 for count in report.checks.values()), report.checks
    assert report.checks["validation_error_names_broken_field"] == 2 * profile_examples()
    assert report.checks["ready_sample_is_requested_image"] == lifecycles
    assert report.cases["coverage"] > 100 and report.cases["fuzzing"] > profile_examples()
    calls = asyncio.run(app.control.calls())  # the memory store: readable from any loop
    assert not [problem for call in calls for problem in call.response_problems]
    report.raise_for_violations()  # does not raise


@pytest.mark.parametrize(
    ("server", "check", "message"),
    [
        ("wrong_422_shape", "validation_error_names_broken_field",
         "body left out (required): the 422 has no list of errors in 'detail': "
         '422 {"errors": [{"field": "", "message": "Field required"}]}'),
        ("wrong_status_code", "status_code_conformance (BFL stance)",
         "Undocumented status code\nReceived: 400\nDocumented: 200, 422"),
        ("wrong_status_code", "validation_error_names_broken_field",
         'body left out (required): expected 422, got 400 {"detail":[{"type":"missing",'
         '"loc":["body"],"msg":"Field required","input":null}]}'),
        ("missing_required_field", "response_schema_conformance",
         "Response violates schema\n{\"cost\":null,\"id\":"),
        ("missing_required_field", "polling_url_is_followable",
         "a submit without webhook_url was answered with no polling_url: 200 {\"id\":\""),
        ("endless_lifecycle", "lifecycle_reaches_final_status",
         "did not reach a final status (Content Moderated, Error, Ready, Request Moderated) "
         "within 30 polls: statuses seen Pending x30"),
        ("wrong_image_size", "ready_sample_is_requested_image",
         "result.sample is 512x768; the request asked for 1024x768"),
    ],
)  # fmt: skip
def test_every_broken_server_is_caught_with_a_clear_message(
    server: str, check: str, message: str
) -> None:
    report = report_on(server)
    assert not report.ok
    messages = [violation.message for violation in report.violations if violation.check == check]
    assert any(message in text for text in messages), report.render()
    with pytest.raises(ContractViolation, match=re.escape(check)):
        report.raise_for_violations()


def test_a_server_that_refuses_with_429_first_is_waited_for_not_blamed() -> None:
    report = check_server(busy_at_first(), api_key=KEY, seed=SEED, max_examples=5, lifecycles=2)
    assert report.ok, report.render()
    assert report.checks["lifecycle_reaches_final_status"] == 2


@functools.cache
def report_on(server: str) -> ServerReport:
    return check_server(
        BROKEN_SERVERS[server](), api_key=KEY, seed=SEED, max_examples=BROKEN_EXAMPLES, lifecycles=3
    )


def test_nothing_but_the_broken_part_is_reported() -> None:
    report = report_on("wrong_image_size")
    assert [violation.check for violation in report.violations] == [
        "ready_sample_is_requested_image"
    ]
    assert report.violations[0].occurrences == 3
    assert report.violations[0].reproduce == "POST /v1/flux-pro-1.1 {}"


def test_the_same_seed_gives_the_same_run() -> None:
    def run() -> tuple[object, ...]:
        report = check_server(BROKEN_SERVERS["wrong_status_code"](), api_key=KEY, seed=SEED,
                              max_examples=BROKEN_EXAMPLES, lifecycles=2)  # fmt: skip
        return report.violations, dict(report.checks), dict(report.cases)

    assert run() == run()


def test_the_report_reads_well() -> None:
    report = check_server(wrong_image_size(), api_key=KEY, seed=SEED, max_examples=5, lifecycles=1)
    text = report.render()
    assert text.startswith(f"bfl-mock check-server: the in-process app\n  seed {SEED}, ")
    assert re.search(r"\n    ready_sample_is_requested_image +1  FAILED\n", text)
    assert re.search(r"\n    ignored_auth +\d+  ok\n", text)
    assert (
        "\n  API keys: wrong keys are refused (a made-up key got 403 on GET /v1/credits);\n"
        "    ignored_auth checks that a missing key and a wrong one are refused\n"
        "  examples per check:\n"
    ) in text
    assert "\n    1. ready_sample_is_requested_image [POST /v1/flux-pro-1.1]\n" in text
    assert text.endswith(f"reproduce the run: seed={SEED}\nFAILED")


def test_check_server_command_passes_the_live_mock() -> None:
    """What CI runs: the real command, in its own process, against a live mock."""
    with MockServer(settings().replace(port=0, strict=True)) as server:
        done = subprocess.run(
            [sys.executable, "-m", "mockserver", "check-server", server.url, "--api-key", KEY,
             "--seed", str(SEED), "--max-examples", str(profile_examples())],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        server.check()  # the mock's own answers kept the spec throughout
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "\n  API keys: wrong keys are refused (a made-up key got 403 on GET /v1/credits);\n"
        "    ignored_auth checks that a missing key and a wrong one are refused\n"
    ) in done.stdout
    assert re.search(r"\n    ignored_auth +\d+  ok\n", done.stdout)
    # A loopback server's key is a test key: the command line carries it, ready to paste.
    assert done.stdout.rstrip().endswith(
        f"reproduce the run: bfl-mock check-server {server.url} --seed {SEED} "
        f"--max-examples {profile_examples()} --api-key {KEY}\nPASSED"
    )
    assert done.stderr == ""  # no progress where there is no terminal


def test_check_server_passes_a_mock_that_takes_any_key_and_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``bfl-mock serve --timing polls``, as it comes: no keys, no raised limits."""
    with MockServer(MockSettings(port=0, timing=Timing.POLLS)) as server:
        code = main(["check-server", server.url, "--seed", str(SEED),
                     "--max-examples", str(profile_examples())], environ={})  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        "\n  API keys: any key is taken, as by bfl-mock serve without --api-keys\n"
        "    (a made-up key got 200 on GET /v1/credits); so ignored_auth was adapted:\n"
        "    a request without a key must still be refused, a wrong key may pass\n"
        "    (give the server keys, e.g. --api-keys KEY, to check wrong keys too)\n"
        "  examples per check:\n"
    ) in out
    assert re.search(r"\n    ignored_auth \(any key accepted\) +\d+  ok\n", out)
    assert not re.search(r"\n    ignored_auth +\d", out)  # the built-in did not run as well
    assert out.endswith("PASSED\n")


def test_an_any_key_server_must_still_refuse_a_request_without_a_key() -> None:
    report = report_on("no_key_needed")
    assert report.keys is not None
    assert (report.keys.any_key, report.keys.evidence) == (
        True,
        "a made-up key got 200 on GET /v1/credits",
    )
    refused = [v for v in report.violations if v.check == "ignored_auth (any key accepted)"]
    assert [violation.operation for violation in refused] == [
        "POST /v1/flux-pro-1.1",
        "GET /v1/credits",
    ], report.render()
    assert all(
        violation.message.startswith("API accepts requests without authentication\n")
        for violation in refused
    ), report.render()


def test_any_key_can_be_told_instead_of_found_out() -> None:
    takes_any_key = create_app(settings().replace(api_keys=frozenset()))
    report = check_server(takes_any_key, api_key=KEY, seed=SEED, max_examples=5, lifecycles=1,
                          any_key=False)  # fmt: skip
    assert report.keys is not None
    assert (report.keys.any_key, report.keys.evidence) == (False, "as told")
    assert {(v.check, v.message.splitlines()[0]) for v in report.violations} == {
        ("ignored_auth", "API accepts invalid authentication")
    }


def test_reproductions_of_a_live_test_server_carry_its_real_key() -> None:
    with LiveApp(BROKEN_SERVERS["wrong_status_code"]()) as live:
        report = check_server(live.url, api_key=KEY, seed=SEED, max_examples=5, lifecycles=1)
    shown = {(v.check, v.operation): v.reproduce for v in report.violations}
    submit = "POST /v1/flux-pro-1.1"
    # schemathesis's curl line, and the kit's own: both paste into a shell as they are.
    assert shown["status_code_conformance (BFL stance)", submit] == (
        f"curl -X POST -H 'x-key: {KEY}' {live.url}/v1/flux-pro-1.1"
    )
    assert shown["validation_error_names_broken_field", submit] == (
        f"curl -X POST -H 'x-key: {KEY}' {live.url}/v1/flux-pro-1.1"  # the body left out
    )
    assert not [text for text in shown.values() if text and "[Filtered]" in text]


def test_a_curl_reproduction_hides_the_key_when_asked() -> None:
    request = Request("op", "GET", "/v1/credits", query={"a": "b c"}, headers={"x-key": "k"})
    assert request.curl("https://api.bfl.ai", hide=["X-Key"]) == (
        "curl -X GET -H 'x-key: [Filtered]' 'https://api.bfl.ai/v1/credits?a=b+c'"
    )
    submit = Request("op", "POST", "/v1/flux-pro-1.1", headers={"x-key": "k"}, body={"width": 1})
    assert submit.curl("http://127.0.0.1:8000") == (
        "curl -X POST -H 'x-key: k' -H 'content-type: application/json' "
        """-d '{"width": 1}' http://127.0.0.1:8000/v1/flux-pro-1.1"""
    )


def test_the_kit_imports_and_checks_an_app_under_warnings_as_errors() -> None:
    """A user's suite with ``filterwarnings = error`` imports and runs the kit as it is."""
    script = (
        "import sys\n"
        "from contracts import check_server\n"
        "from mockserver import MockSettings, create_app\n"
        "from mockserver.settings import Timing\n"
        "app = create_app(MockSettings(timing=Timing.POLLS))\n"
        "report = check_server(app, seed=1, max_examples=3, lifecycles=1)\n"
        "assert report.ok, report.render()\n"
        "print(sorted(name for name in sys.modules if name.startswith('starlette.testclient')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    # Not even imported: which HTTP library it uses depends on the Starlette release.
    assert done.stdout == "[]\n"


def test_check_server_command_fails_a_broken_live_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with LiveApp(BROKEN_SERVERS["endless_lifecycle"]()) as live:
        code = main(["check-server", live.url, "--api-key", KEY, "--seed", str(SEED),
                     "--max-examples", "5", "--lifecycles", "2", "--max-polls", "4",
                     "--poll-interval", "0"], environ={})  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1, out
    assert "within 4 polls: statuses seen Pending x4" in out
    assert out.endswith("FAILED\n")


def test_check_server_command_exits_2_when_nothing_listens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with LiveApp(mock()) as live:
        url = live.url
    assert main(["check-server", url, "--wait", "0.3"], environ={}) == 2
    assert f"bfl-mock check-server: cannot connect to {url}" in capsys.readouterr().err
