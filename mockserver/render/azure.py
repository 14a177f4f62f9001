"""What Azure Blob Storage answers for a sample URL: the file with its headers, or an error."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import hashlib
import uuid
from collections.abc import Iterable
from email.utils import format_datetime

from starlette.responses import Response

from mockserver.render.images import RenderedImage
from mockserver.render.wire import PreparedResponse

XML = "application/xml"

# Headers Azure Blob Storage sends with every file; each file adds its MD5, ETag and dates.
DELIVERY_HEADERS = {
    "Cache-Control": "max-age=1200",
    "Accept-Ranges": "bytes",
    "x-ms-blob-type": "BlockBlob",
    "x-ms-lease-state": "available",
    "x-ms-lease-status": "unlocked",
    "x-ms-server-encrypted": "true",
    "x-ms-version": "2024-11-04",
}
_AZURE_AUTH_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization "
    "header is formed correctly including the signature."
)


@dataclasses.dataclass(frozen=True, slots=True)
class Delivered:
    """A file a delivery URL serves: an image, a video or a draft bundle."""

    data: bytes
    media_type: str
    md5: str
    """Base64 MD5 of the bytes, as Azure's Content-MD5 header carries it."""

    @classmethod
    def of(cls, data: bytes, media_type: str, md5: str | None = None) -> Delivered:
        if md5 is None:
            md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        return cls(data, media_type, md5)

    @property
    def etag(self) -> str:
        return RenderedImage(self.data, self.media_type, self.md5).etag


def delivered(file: Delivered, *, created_at: float, head: bool = False) -> Response:
    """A delivery URL's answer, with the headers Azure Blob Storage sends."""
    headers = _delivery_headers(file.md5, file.etag, file.media_type, len(file.data), created_at)
    # A copy: whoever handles the response after us may add headers to its list.
    return PreparedResponse(b"" if head else file.data, 200, list(headers))


@functools.lru_cache(maxsize=1024)
def _delivery_headers(
    md5: str, etag: str, media_type: str, length: int, created_at: float
) -> tuple[tuple[bytes, bytes], ...]:
    """Azure's headers for one file, encoded once (keyed without the file's bytes)."""
    headers = {
        **DELIVERY_HEADERS,
        "Content-MD5": md5,
        "ETag": etag,
        "Last-Modified": _http_date(created_at),
        "x-ms-creation-time": _http_date(created_at),
        "content-length": str(length),
        "content-type": media_type,
    }
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


def azure_error(
    status_code: int, code: str, message: str, *, now: float, extra: Iterable[tuple[str, str]] = ()
) -> Response:
    request_id = uuid.UUID(bytes=hashlib.sha256(f"{code}{now}".encode()).digest()[:16])
    tail = "".join(f"<{name}>{text}</{name}>" for name, text in extra)
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}\nRequestId:{request_id}\n"
        f"Time:{_iso(now)}</Message>{tail}</Error>"
    )
    return Response(body.encode(), status_code, {"x-ms-error-code": code}, media_type=XML)


def expired_sample(*, signed_at: float, expires_at: float, now: float) -> Response:
    window = (
        f"Signature not valid in the specified time frame: Start [{_http_date(signed_at)}]"
        f" - Expiry [{_http_date(expires_at)}] - Current [{_http_date(now)}]"
    )
    return azure_error(
        403,
        "AuthenticationFailed",
        _AZURE_AUTH_FAILED,
        now=now,
        extra=[("AuthenticationErrorDetail", window)],
    )


def bad_signature(now: float) -> Response:
    return azure_error(
        403,
        "AuthenticationFailed",
        _AZURE_AUTH_FAILED,
        now=now,
        extra=[("AuthenticationErrorDetail", "Signature did not match.")],
    )


def blob_not_found(now: float) -> Response:
    return azure_error(404, "BlobNotFound", "The specified blob does not exist.", now=now)


def _http_date(epoch: float) -> str:
    return format_datetime(datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc), True)


def _iso(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
