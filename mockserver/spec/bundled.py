"""The specs shipped with the package: the seed's ``openapi.json`` and BFL's published ones.

``--spec`` takes a file path or one of these names (``latest``, ``2026-10``,
``2026-04-23``). A request for a path the served spec lacks is answered 404 as BFL's
server answers it; ``which_has`` tells the journal and the log which bundled spec has it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
import sys
from collections.abc import Mapping
from pathlib import Path

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - Python 3.10
    from importlib.abc import Traversable

SEED = "openapi.json"
"""The default: FLUX 1.1 [pro] as the seed gives it, with get_result and credits."""
PUBLISHED_FOLDER = "published"
LATEST = "latest"


@dataclasses.dataclass(frozen=True, slots=True)
class BundledSpec:
    name: str
    """What ``--spec`` takes."""
    file: str
    """The file inside the package."""
    description: str

    def read(self) -> bytes:
        data: bytes = _resource(self.file).read_bytes()
        return data


BUNDLED = (
    BundledSpec(
        "2026-10",
        f"{PUBLISHED_FOLDER}/bfl-openapi-2026-10.json",
        "BFL's full spec, Oct 2026: FLUX.1, FLUX.2, Kontext, the tools, FLUX 3 image and video",
    ),  # fmt: skip
    BundledSpec(
        "2026-04-23",
        f"{PUBLISHED_FOLDER}/bfl-openapi-2026-04-23.json",
        "BFL's full spec, April 2026: FLUX.1, FLUX.2, Kontext, Fill, Expand",
    ),  # fmt: skip
)
ALIASES: Mapping[str, str] = {LATEST: BUNDLED[0].name}
DEFAULT = BundledSpec("seed", SEED, "FLUX 1.1 [pro] (the seed), get_result and credits")


def _resource(name: str) -> Traversable:
    return importlib.resources.files("mockserver.spec").joinpath(name)


def named(name: str) -> BundledSpec | None:
    """The bundled spec ``name`` stands for (``latest`` included), if any."""
    name = ALIASES.get(name, name)
    return next((spec for spec in BUNDLED if spec.name == name), None)


def source_of(path: Path | None) -> BundledSpec | Path:
    """What ``--spec`` asks for: a file that exists wins over a bundled name."""
    if path is None:
        return DEFAULT
    bundled = named(str(path))
    return bundled if bundled is not None and not path.exists() else path


def names() -> tuple[str, ...]:
    return (*ALIASES, *(spec.name for spec in BUNDLED))


@functools.lru_cache(maxsize=1)
def _paths() -> Mapping[str, tuple[str, ...]]:
    """For each path of any bundled spec, the names of the bundled specs that have it."""
    found: dict[str, list[str]] = {}
    for spec in BUNDLED:
        for path in json.loads(spec.read()).get("paths", {}):
            found.setdefault(path, []).append(spec.name)
    return {path: tuple(specs) for path, specs in found.items()}


def which_has(path: str) -> tuple[str, ...]:
    """The bundled specs that serve ``path`` (empty for a path no BFL spec has)."""
    return _paths().get(path, ())
