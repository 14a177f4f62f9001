"""Signed sample URLs shaped like BFL's Azure Blob delivery URLs, on the mock's origin.

Real shape (2025 captures): ``/results/<2 hex>/<6 hex><first 8 hex of X>/<X: 32 hex>/
sample.jpeg?se=<expiry>&sp=r&sv=2024-11-04&sr=b&rsct=image/jpeg&sig=<base64 HMAC>``.
The mock signs with its own secret, so a tampered or expired URL is refused as Azure
refuses it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import hashlib
import hmac
import urllib.parse
from collections.abc import Mapping

DELIVERY_ROOT = "/results"
DELIVERY_ROUTE = DELIVERY_ROOT + "/{shard}/{folder}/{blob}/{filename}"
SAMPLE_STEM = "sample"
STORAGE_VERSION = "2024-11-04"
_EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Access(enum.Enum):
    GRANTED = "granted"
    EXPIRED = "expired"
    BAD_SIGNATURE = "bad_signature"


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    access: Access
    expires_at: float | None = None


class SampleSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def path(self, blob: str, extension: str) -> str:
        digest = hashlib.sha256(blob.encode()).hexdigest()
        folder = f"{digest[2:8]}{blob[:8]}"
        return f"{DELIVERY_ROOT}/{digest[:2]}/{folder}/{blob}/{SAMPLE_STEM}.{extension}"

    def sign(self, blob: str, extension: str, media_type: str, expires_at: float) -> str:
        """Path and query of a sample URL valid until ``expires_at`` (epoch seconds)."""
        path = self.path(blob, extension)
        expiry = _format_expiry(expires_at)
        signature = self._signature(path, expiry, media_type)
        query = (
            f"se={urllib.parse.quote(expiry, safe='')}&sp=r&sv={STORAGE_VERSION}&sr=b"
            f"&rsct={media_type}&sig={urllib.parse.quote(signature, safe='')}"
        )
        return f"{path}?{query}"

    def verify(self, path: str, query: Mapping[str, str], now: float) -> Verdict:
        expiry, media_type, signature = query.get("se"), query.get("rsct"), query.get("sig")
        if not expiry or not media_type or not signature:
            return Verdict(Access.BAD_SIGNATURE)
        expected = self._signature(path, expiry, media_type)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return Verdict(Access.BAD_SIGNATURE)
        expires_at = _parse_expiry(expiry)
        if expires_at is None:
            return Verdict(Access.BAD_SIGNATURE)
        if now >= expires_at:
            return Verdict(Access.EXPIRED, expires_at)
        return Verdict(Access.GRANTED, expires_at)

    def _signature(self, path: str, expiry: str, media_type: str) -> str:
        message = f"{path}\n{expiry}\n{media_type}".encode()
        return base64.b64encode(hmac.new(self._secret, message, hashlib.sha256).digest()).decode()


def _format_expiry(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        _EXPIRY_FORMAT
    )


def _parse_expiry(text: str) -> float | None:
    try:
        moment = datetime.datetime.strptime(text, _EXPIRY_FORMAT)
    except ValueError:
        return None
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()
