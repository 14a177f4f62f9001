"""Serving the mock: one process, or several on one port (``--workers``) over a shared store.

Several workers are uvicorn's own supervisor: it binds the port once and starts each
process, which builds the app from the settings handed down in ``BFL_MOCK_*`` variables
(the environment is the one thing a spawned process inherits).
"""

from __future__ import annotations

import os
import socket

from uvicorn.supervisors import Multiprocess

from mockserver.http.app import create_app, make_store
from mockserver.http.routing import MockApp
from mockserver.serving.server import MockUvicorn, uvicorn_config
from mockserver.settings import MockSettings, to_environment

FACTORY = "mockserver.serving.workers:from_environment"


def from_environment() -> MockApp:
    """The app of one worker process: its settings come in ``BFL_MOCK_*`` variables."""
    return create_app(MockSettings.from_env(os.environ))


async def reachable(settings: MockSettings) -> None:
    """Check the store answers (``StoreUnavailable``, naming it, if not)."""
    store = make_store(settings)
    try:
        await store.open()
    finally:
        await store.close()


def serve(settings: MockSettings, sockets: list[socket.socket], app: MockApp | None = None) -> None:
    """Serve on ``sockets`` until stopped: in this process, or in ``settings.workers``.

    ``app`` (built by ``create_app`` with ``settings``) is served in this process instead
    of a new one; each worker process builds its own.
    """
    if settings.workers == 1:
        app = app or create_app(settings)
        MockUvicorn(uvicorn_config(app, settings)).run(sockets=sockets)
        return
    os.environ.update(to_environment(settings))
    config = uvicorn_config(FACTORY, settings)
    config.factory = True
    config.workers = settings.workers
    Multiprocess(config, sockets=sockets).run()
