"""Where the mock connects: loopback names are never looked up, for media inputs too."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator

import pytest

from mockserver.http.addresses import Target, connect_to

from support import AUTH, OCT_SPEC, ClientFactory, png_base64


@pytest.fixture
def picture_url() -> Iterator[str]:
    """A 600x800 PNG served on 127.0.0.1 (any path)."""
    data = base64.b64decode(png_base64(600, 800))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cat.png"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_localhost_subdomain_input_is_fetched_without_looking_it_up(
    make_client: ClientFactory, lookups: list[str], picture_url: str
) -> None:
    client = make_client(spec=OCT_SPEC)
    url = picture_url.replace("127.0.0.1", "pictures.localhost")
    answer = client.post(
        "/v1/flux-kontext-pro", json={"prompt": "x", "input_image": url}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    (task,) = [
        task for task in client.get("/_mock/tasks").json() if task["id"] == answer.json()["id"]
    ]
    assert (task["width"], task["height"]) == (880, 1184)  # read: 600x800 is 3:4
    assert "localhost" in lookups
    assert not any(name.endswith(".localhost") for name in lookups)


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://127.0.0.1:9/x", Target("http://127.0.0.1:9/x")),
        ("https://example.com/x", Target("https://example.com/x")),
        (
            "https://Hooks.Localhost:8443/x?a=1",
            Target("https://localhost:8443/x?a=1", "Hooks.Localhost:8443", "hooks.localhost"),
        ),
        (
            "http://u:p@a.localhost/x",
            Target("http://u:p@localhost/x", "a.localhost", "a.localhost"),
        ),
    ],
)
def test_localhost_names_connect_to_localhost_keeping_their_host(url: str, target: Target) -> None:
    assert connect_to(url) == target
    assert target.headers == ({"host": target.host_header} if target.host_header else {})
    assert target.extensions == ({"sni_hostname": target.tls_name} if target.tls_name else {})
