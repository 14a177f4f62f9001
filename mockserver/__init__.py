"""bfl-mock: a faithful offline mock of the Black Forest Labs image API.

Public API: ``create_app`` (the ASGI app), ``MockSettings``, ``MockServer`` (the app
on a live port), ``Call`` (one journaled request) and ``__version__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Call", "MockServer", "MockSettings", "__version__", "create_app"]

if TYPE_CHECKING:
    from mockserver.http.app import create_app
    from mockserver.serving.server import MockServer
    from mockserver.settings import MockSettings
    from mockserver.state.records import Call

# Imported on first use, so that loading the pytest plugin (a submodule) stays cheap.
_LAZY = {
    "create_app": "mockserver.http.app",
    "MockServer": "mockserver.serving.server",
    "MockSettings": "mockserver.settings",
    "Call": "mockserver.state.records",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
