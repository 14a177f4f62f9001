"""What to type to add an extra of bfl-mock, for the way this copy of it was installed.

bfl-mock is not on a package index: it is installed from a checkout or from a wheel
built from one, so ``pip install 'bfl-mock[contracts]'`` finds nothing. pip records
where an installation came from (``direct_url.json``, PEP 610); the command named here
installs the extra from that same place when it is still there.
"""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import shlex
import urllib.parse
import urllib.request

DISTRIBUTION = "bfl-mock"
CONTRACTS = "contracts"


class MissingExtra(ImportError):
    """Part of bfl-mock needs an extra that is not installed; the message says how to add it."""


def install_command(extra: str) -> str:
    """The pip command that adds ``extra`` to this installation of bfl-mock."""
    source, editable = _source()
    if source is None:
        return (
            f"pip install '.[{extra}]' in a checkout of bfl-mock, or "
            f"pip install '<wheel>[{extra}]' with a wheel built from one"
        )
    return "pip install " + ("-e " if editable else "") + shlex.quote(f"{source}[{extra}]")


def _source() -> tuple[str | None, bool]:
    """Where this bfl-mock was installed from, if pip said and it is still there."""
    try:
        recorded = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except importlib.metadata.PackageNotFoundError:
        return None, False
    if not recorded:
        return None, False
    try:
        origin = json.loads(recorded)
    except ValueError:
        return None, False
    url = urllib.parse.urlsplit(str(origin.get("url", "")))
    if url.scheme != "file":
        return None, False
    path = pathlib.Path(urllib.request.url2pathname(url.path))
    if not path.exists():
        return None, False
    editable = bool(origin.get("dir_info", {}).get("editable"))
    return str(path), editable
