"""A published BFL client from PyPI (black-forest-labs 1.0.0), unchanged, against the mock."""

from __future__ import annotations

import importlib
import io
import sys
from collections.abc import Iterator
from types import ModuleType

import httpx
import pytest
from PIL import Image

from mockserver.serving.server import MockServer


@pytest.fixture
def black_forest_labs(
    monkeypatch: pytest.MonkeyPatch, bfl_mock: MockServer
) -> Iterator[ModuleType]:
    # The package builds a default client from BFL_API_KEY at import time.
    monkeypatch.setenv("BFL_API_KEY", bfl_mock.api_key)
    sys.modules.pop("black_forest_labs", None)
    module = importlib.import_module("black_forest_labs")
    yield module
    # The package never closes its HTTP clients; close them so no socket leaks.
    module.default_client._client.close()
    sys.modules.pop("black_forest_labs", None)


def test_published_client_completes_a_generation(
    black_forest_labs: ModuleType, bfl_mock: MockServer, request: pytest.FixtureRequest
) -> None:
    client = black_forest_labs.Client(base_url=bfl_mock.url)
    request.addfinalizer(client._client.close)
    task = client.generate("flux-pro-1.1", prompt="ein fantastisches bild", width=768, height=512)
    polls = 0
    while not task.is_done:
        task = client.get_result(task.id)
        polls += 1
    assert str(task.status) == "Ready"
    assert task.result.prompt == "ein fantastisches bild"
    download = httpx.get(task.result.sample).raise_for_status()
    assert Image.open(io.BytesIO(download.content)).size == (768, 512)
    assert polls == 3
    sent = [(call.method, call.path, call.header("x-key")) for call in bfl_mock.calls]
    assert sent[0] == ("POST", "/v1/flux-pro-1.1", bfl_mock.api_key)
    assert all(call.accepted for call in bfl_mock.calls)


@pytest.mark.bfl_mock_off_contract  # width 1000 is off the contract on purpose
def test_published_client_sees_the_mocks_validation_error(
    black_forest_labs: ModuleType, bfl_mock: MockServer, request: pytest.FixtureRequest
) -> None:
    client = black_forest_labs.Client(base_url=bfl_mock.url)
    request.addfinalizer(client._client.close)
    with pytest.raises(httpx.HTTPStatusError) as raised:
        client.generate("flux-pro-1.1", prompt="x", width=1000)
    assert raised.value.response.status_code == 422
    assert raised.value.response.json()["detail"][0]["loc"] == ["body", "width"]
