"""The pytest plugin, exercised the way users meet it: in a separate pytest run."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_fixtures_journal_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixtures="""
        import asyncio

        import httpx
        import pytest


        def test_live_server(bfl_mock):
            submitted = httpx.post(
                bfl_mock.url + "/v1/flux-pro-1.1",
                json={"prompt": "a fox"},
                headers={"x-key": bfl_mock.api_key},
            ).json()
            statuses = [httpx.get(submitted["polling_url"]).json()["status"] for _ in range(3)]
            assert statuses == ["Pending", "Pending", "Ready"]
            assert [call.path for call in bfl_mock.calls][0] == "/v1/flux-pro-1.1"
            assert len(bfl_mock.tasks) == 1


        def test_each_test_starts_clean(bfl_mock):
            assert bfl_mock.calls == () and bfl_mock.tasks == ()


        @pytest.mark.bfl_mock(polls_until_ready=0, api_keys=frozenset({"secret"}))
        @pytest.mark.bfl_mock_off_contract
        def test_marker_gives_a_server_with_other_settings(bfl_mock):
            assert bfl_mock.api_key == "secret"
            refused = httpx.post(bfl_mock.url + "/v1/flux-pro-1.1", json={}, headers={"x-key": "x"})
            assert refused.status_code == 403


        def test_in_process_app(bfl_mock_app):
            async def run():
                transport = httpx.ASGITransport(app=bfl_mock_app)
                async with httpx.AsyncClient(transport=transport, base_url="http://m") as http:
                    sent = await http.post("/v1/flux-pro-1.1", json={}, headers={"x-key": "k"})
                    url = sent.json()["polling_url"]
                    return [(await http.get(url)).json()["status"] for _ in range(3)]

            async def journal():
                return await bfl_mock_app.control.calls()

            assert asyncio.run(run()) == ["Pending", "Pending", "Ready"]
            assert len(asyncio.run(journal())) == 4
        """,
        test_broken_mock="""
        import httpx
        import pytest

        from mockserver.http.app import create_app
        from mockserver.render.bodies import Renderer
        from mockserver.render.wire import json_response
        from mockserver.serving.server import MockServer


        class LotsOfCredits(Renderer):
            def credits(self, balance):
                return json_response({"credits": "lots"})


        @pytest.fixture(scope="session")
        def bfl_mock_server(bfl_mock_settings):
            app = create_app(bfl_mock_settings, renderer_class=LotsOfCredits)
            with MockServer(bfl_mock_settings, app=app) as server:
                yield server


        def test_an_off_spec_answer_fails_the_test_at_teardown(bfl_mock):
            httpx.get(bfl_mock.url + "/v1/credits", headers={"x-key": "k"})
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(
        ["*get_credits_v1_credits_get 200: at credits: 'lots' is not of type 'number'"]
    )


OFF_CONTRACT_CLIENT = """
import httpx
import pytest


def send_bad_requests(mock):
    httpx.post(mock.url + "/v1/flux-pro-1.1", json={"width": 1000}, headers={"x-key": "k"})
    httpx.post(mock.url + "/v1/flux-pro-1.1", json={})


def test_an_off_contract_request_fails_the_test_at_teardown(bfl_mock):
    send_bad_requests(bfl_mock)


@pytest.mark.bfl_mock(polls_until_ready=1)
def test_also_with_a_server_of_its_own(bfl_mock):
    send_bad_requests(bfl_mock)


@pytest.mark.bfl_mock_off_contract
def test_the_marker_switches_the_check_off(bfl_mock):
    send_bad_requests(bfl_mock)
    assert [call.status for call in bfl_mock.calls] == [422, 401]
"""


def test_off_contract_requests_fail_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(OFF_CONTRACT_CLIENT)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "E *RequestViolation: bfl-mock received 2 off-contract request(s):",
            "E *   POST /v1/flux-pro-1.1 -> 422",
            "E *     body.width: Input should be a multiple of 32 (multiple_of)",
            "E *   POST /v1/flux-pro-1.1 -> 401",
            "E *     401: Not authenticated",
            # The failure says how to opt out (both ways are exercised below).
            "E *Sent on purpose? Mark the test @pytest.mark.bfl_mock_off_contract; for a whole "
            "suite, define a session-scoped bfl_mock_client_check fixture returning False.",
        ]
    )
    raised = [line for line in result.outlines if line.startswith("E ") and "received 2" in line]
    assert len(raised) == 2


def test_a_suite_switches_the_client_check_off_with_a_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def bfl_mock_client_check():
            return False
        """
    )
    pytester.makepyfile(OFF_CONTRACT_CLIENT)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_fixtures_are_documented_for_pytest_fixtures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures")
    # Each fixture with the first line of its docstring (pytest's listing order varies).
    for name, doc in [
        ("bfl_mock_settings [[]session scope[]]",
         "Settings of the mock the ``bfl_mock*`` fixtures start."),
        ("bfl_mock_client_check [[]session scope[]]",
         "Whether ``bfl_mock`` fails a test whose client sent an off-contract request."),
        ("bfl_mock_server [[]session scope[]]", "The session's live bfl-mock, *"),
        ("bfl_mock", "A live bfl-mock for this test: point your client at ``bfl_mock.url``."),
        ("bfl_mock_app", "A fresh in-process bfl-mock ASGI app*"),
    ]:  # fmt: skip
        result.stdout.fnmatch_lines([f"{name} -- *", f"    {doc}"])


def test_loading_the_plugin_imports_no_server_or_contract_libraries() -> None:
    code = (
        "import sys, mockserver.serving.pytest_plugin; "
        "print(sorted(m for m in ('starlette', 'uvicorn', 'hypothesis', 'schemathesis', "
        "'PIL', 'pydantic') if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"
