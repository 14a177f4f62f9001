"""Draft-cache bundles: what a FLUX 3 video draft hands back to render it in full later.

The real bundle is an encrypted ``.bin`` that pins the generation (mode, prompt, seed,
conditioning media); ``draft_enhance`` replays it at full quality. The mock's bundle is
the same idea, signed rather than encrypted: a magic prefix, the generation's fields as
compact JSON, and an HMAC of them, so a bundle the mock did not make (or one altered) is
refused as a corrupted input.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

MAGIC = b"BFLMOCK-DRAFT1\n"
_DIGEST = hashlib.sha256
_MAC_BYTES = _DIGEST().digest_size
REPLAYED_FIELDS = (
    "mode", "prompt", "seed", "aspect_ratio", "duration", "generate_audio", "safety_tolerance"
)  # fmt: skip
"""What a draft pins: the full render reproduces these, the caller picks only the resolution."""


class DraftCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def rekey(self, secret: bytes) -> None:
        """Seal and open with ``secret`` from now on (shared by every process of a store)."""
        self._secret = secret

    def seal(self, fields: Mapping[str, Any]) -> bytes:
        """The bundle of a draft generation with these fields."""
        payload = json.dumps(
            {name: fields[name] for name in REPLAYED_FIELDS if name in fields},
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        return MAGIC + payload + self._mac(payload)

    def open(self, bundle: bytes) -> Mapping[str, Any] | None:
        """The fields a bundle pins; None when it is not one this mock sealed."""
        if not bundle.startswith(MAGIC) or len(bundle) < len(MAGIC) + _MAC_BYTES:
            return None
        payload, mac = bundle[len(MAGIC) : -_MAC_BYTES], bundle[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            fields = json.loads(payload)
        except ValueError:
            return None
        return fields if isinstance(fields, dict) else None

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, _DIGEST).digest()
