from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mockserver.cli import argument_parser, banner, main, settings_from
from mockserver.http.app import create_app
from mockserver.serving.guarded_http import GuardedHttpTools
from mockserver.serving.server import uvicorn_config
from mockserver.settings import Timing
from mockserver.spec.reading import load_spec


def parse(*argv: str, environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return settings_from(argument_parser().parse_args(["serve", *argv]), environ or {})


def test_every_setting_is_a_flag_and_flags_beat_the_environment() -> None:
    settings = parse(
        "--port", "0", "--timing", "polls", "--api-keys", "a,b", "--strict", "--seed", "7",
        environ={"BFL_MOCK_PORT": "9", "BFL_MOCK_CREDITS": "5"},
    )  # fmt: skip
    assert (settings.port, settings.timing, settings.api_keys) == (0, Timing.POLLS, {"a", "b"})
    assert (settings.strict, settings.seed, settings.credits) == (True, 7, 5.0)
    assert parse("--no-strict", environ={"BFL_MOCK_STRICT": "1"}).strict is False


def test_bad_flag_value_exits_1_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "http"], environ={}) == 1
    assert "bfl-mock: --port='http' is not a valid int" in capsys.readouterr().err


def test_bad_spec_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--spec", str(tmp_path / "none.json")], environ={}) == 1
    assert "cannot read spec" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([], environ={}) == 2
    assert "serve" in capsys.readouterr().out


def test_serve_runs_until_stopped_and_prints_how_to_use_it() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--spec", "2026-04-23"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(
            r"16 generation endpoint\(s\) of spec 2026-04-23 on (http://127\.0\.0\.1:\d+)", banner
        )
        assert match, banner
        lines = [process.stdout.readline() for _ in range(4)]
        assert "curl -s -X POST" in lines[1]
        assert "/openapi.json" in lines[2] and f"dashboard: {match.group(1)}/_mock/" in lines[2]
        assert "uvicorn on uvloop + httptools" in lines[3]
        assert "a line per request: off (--access-log to show)" in lines[3]
        response = httpx.post(
            match.group(1) + "/v1/flux-dev", json={"prompt": "x"}, headers={"x-key": "k"}
        )
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl+C sends
        _, errors = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in errors


def test_port_in_use_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)], environ={}) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.parametrize("access_log", [False, True])
def test_serve_is_fast_by_default_and_logs_requests_when_asked(access_log: bool) -> None:
    settings = parse(*(["--access-log"] if access_log else []))
    config = uvicorn_config(create_app(settings), settings)
    assert (config.loop, config.http, config.access_log) == ("auto", GuardedHttpTools, access_log)
    assert (config.limit_concurrency, config.h11_max_incomplete_event_size) == (1000, 65536)
    config.load()  # "auto" picks uvloop, a dependency of bfl-mock; httptools is one too
    assert issubclass(config.http_protocol_class, HttpToolsProtocol)
    assert "a line per request: " + ("on" if access_log else "off") in banner(
        settings, load_spec(settings.spec), "http://127.0.0.1:8000"
    )
