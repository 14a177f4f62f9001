"""The mock on a real socket: uvicorn in a thread, port 0, the whole flow over TCP."""

from __future__ import annotations

import io
import socket
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.responses import Response

from mockserver.errors import ServerStartError
from mockserver.http.app import create_app
from mockserver.render.bodies import Renderer
from mockserver.render.wire import json_response
from mockserver.serving.server import MockServer, ResponseViolation
from mockserver.settings import MockSettings, Timing


def test_whole_flow_over_a_real_socket() -> None:
    settings = MockSettings(port=0, timing=Timing.POLLS, polls_until_ready=2, seed=3, strict=True)
    with MockServer(settings) as server, httpx.Client(base_url=server.url) as http:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        submitted = http.post(
            "/v1/flux-pro-1.1",
            json={"prompt": "a fox", "width": 512, "height": 384, "output_format": "png"},
            headers={"x-key": server.api_key},
        ).json()
        assert submitted["polling_url"] == f"{server.url}/v1/get_result?id={submitted['id']}"
        statuses = [http.get(submitted["polling_url"]).json() for _ in range(3)]
        assert [s["status"] for s in statuses] == ["Pending", "Pending", "Ready"]
        image = http.get(statuses[-1]["result"]["sample"])
        assert Image.open(io.BytesIO(image.content)).size == (512, 384)
        assert [call.status for call in server.calls] == [200, 200, 200, 200, 200]
        server.check()
        server.reset()
        assert server.calls == ()
        assert http.get("/v1/get_result", params={"id": submitted["id"]}).status_code == 404


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServerStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            MockServer(MockSettings(port=port)).start()


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(ServerStartError, match="not started"):
        _ = MockServer().url


class BrokenSubmits(Renderer):
    """The renderer broken the way a regression would: a submit without polling_url."""

    def submitted(self, **kwargs: Any) -> Response:
        return json_response({"id": "x"})


def test_check_reports_off_spec_answers() -> None:
    settings = MockSettings(port=0, strict=True)
    with MockServer(settings, app=create_app(settings, renderer_class=BrokenSubmits)) as server:
        httpx.post(f"{server.url}/v1/flux-pro-1.1", json={}, headers={"x-key": "k"})
        with pytest.raises(ResponseViolation, match="'polling_url' is a required property"):
            server.check()


def test_stop_is_idempotent_and_start_twice_is_harmless() -> None:
    server = MockServer()
    assert server.start() is server.start()
    server.stop()
    server.stop()
