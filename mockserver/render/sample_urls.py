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
import functools
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Mapping

DELIVERY_ROOT = "/results"
DELIVERY_ROUTE = DELIVERY_ROOT + "/{shard}/{folder}/{blob}/{filename}"
SAMPLE_STEM = "sample"
DRAFT_CACHE_STEM = "draft_cache"
"""A draft video's bundle is delivered beside its sample (``draft_cache.bin``)."""
_DELIVERY_PATH = re.compile(
    re.escape(DELIVERY_ROOT) + r"/[0-9a-f]{2}/[0-9a-f]{14}/(?P<blob>[0-9a-f]{32})/(?P<name>[^/]+)"
)
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


SIGNATURE_MEMO_SIZE = 4096
"""URLs whose signing or checking is remembered: every poll of a Ready task signs the
same URL, and every download of a sample checks the same one."""


class SampleSigner:
    def __init__(self, secret: bytes) -> None:
        self.rekey(secret)
        self._parsed = functools.lru_cache(maxsize=SIGNATURE_MEMO_SIZE)(_signature_fields)

    def rekey(self, secret: bytes) -> None:
        """Sign with ``secret`` from now on (the one every process sharing a store uses)."""
        self._secret = secret
        # Both are pure functions of their arguments and the secret; bounded memos.
        self._signed = functools.lru_cache(maxsize=SIGNATURE_MEMO_SIZE)(self._sign)
        self._valid_until = functools.lru_cache(maxsize=SIGNATURE_MEMO_SIZE)(self._expiry_if_valid)

    def path(self, blob: str, extension: str, stem: str = SAMPLE_STEM) -> str:
        digest = hashlib.sha256(blob.encode()).hexdigest()
        folder = f"{digest[2:8]}{blob[:8]}"
        return f"{DELIVERY_ROOT}/{digest[:2]}/{folder}/{blob}/{stem}.{extension}"

    def sign(
        self,
        blob: str,
        extension: str,
        media_type: str,
        expires_at: float,
        stem: str = SAMPLE_STEM,
    ) -> str:
        """Path and query of a delivery URL valid until ``expires_at`` (epoch seconds)."""
        return self._signed(blob, extension, media_type, int(expires_at), stem)

    def _sign(self, blob: str, extension: str, media_type: str, expires_at: int, stem: str) -> str:
        path = self.path(blob, extension, stem)
        expiry = _format_expiry(expires_at)
        signature = self.signature(path, expiry, media_type)
        query = (
            f"se={urllib.parse.quote(expiry, safe='')}&sp=r&sv={STORAGE_VERSION}&sr=b"
            f"&rsct={media_type}&sig={urllib.parse.quote(signature, safe='')}"
        )
        return f"{path}?{query}"

    def verify(self, path: str, query: Mapping[str, str], now: float) -> Verdict:
        expiry, media_type, signature = query.get("se"), query.get("rsct"), query.get("sig")
        if not expiry or not media_type or not signature:
            return Verdict(Access.BAD_SIGNATURE)
        expires_at = self._valid_until(path, expiry, media_type, signature)
        if expires_at is None:
            return Verdict(Access.BAD_SIGNATURE)
        if now >= expires_at:
            return Verdict(Access.EXPIRED, expires_at)
        return Verdict(Access.GRANTED, expires_at)

    def verify_query(self, path: str, query_string: str, now: float) -> Verdict:
        """``verify`` with the raw query string, parsed once per distinct URL."""
        return self.verify(path, self._parsed(query_string), now)

    def _expiry_if_valid(
        self, path: str, expiry: str, media_type: str, signature: str
    ) -> float | None:
        """When a correctly signed URL expires; None when the signature is wrong."""
        expected = self.signature(path, expiry, media_type)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        return _parse_expiry(expiry)

    def signature(self, path: str, expiry: str, media_type: str) -> str:
        """The ``sig`` a URL for ``path`` with these ``se`` and ``rsct`` fields carries."""
        message = f"{path}\n{expiry}\n{media_type}".encode()
        return base64.b64encode(hmac.new(self._secret, message, hashlib.sha256).digest()).decode()


def delivered_file(path: str) -> tuple[str, str] | None:
    """The blob and file name a delivery URL's path names; None for another path."""
    match = _DELIVERY_PATH.fullmatch(path)
    return None if match is None else (match.group("blob"), match.group("name"))


def _signature_fields(query_string: str) -> Mapping[str, str]:
    # Parsed as Starlette parses a query string: blanks kept, the last value wins.
    return dict(urllib.parse.parse_qsl(query_string, keep_blank_values=True))


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
