from __future__ import annotations

import urllib.parse

from mockserver.render.sample_urls import Access, SampleSigner

BLOB = "6a87db5603ef4e26aa5af1445d68e079"


def split(url: str) -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    return parts.path, dict(urllib.parse.parse_qsl(parts.query))


def test_signed_url_has_the_azure_shape() -> None:
    url = SampleSigner(b"s").sign(BLOB, "jpeg", "image/jpeg", expires_at=1766072947.0)
    path, query = split(url)
    head, shard, folder, blob, name = path.rsplit("/", 4)
    assert (head, len(shard), folder[6:], blob, name) == (
        "/results", 2, BLOB[:8], BLOB, "sample.jpeg",
    )  # fmt: skip
    assert "se=2025-12-18T15%3A49%3A07Z&sp=r&sv=2024-11-04&sr=b&rsct=image/jpeg&sig=" in url
    assert query["se"] == "2025-12-18T15:49:07Z"


def test_verify_grants_until_expiry_then_refuses() -> None:
    signer = SampleSigner(b"s")
    path, query = split(signer.sign(BLOB, "png", "image/png", expires_at=1000.0))
    assert signer.verify(path, query, now=999.0).access is Access.GRANTED
    assert signer.verify(path, query, now=1000.0).access is Access.EXPIRED


def test_verify_refuses_tampering_and_other_secrets() -> None:
    signer = SampleSigner(b"s")
    path, query = split(signer.sign(BLOB, "png", "image/png", expires_at=1000.0))
    assert signer.verify(path, query | {"se": "2099-01-01T00:00:00Z"}, 0).access is (
        Access.BAD_SIGNATURE
    )
    assert signer.verify(path.replace(".png", ".jpeg"), query, 0).access is Access.BAD_SIGNATURE
    assert SampleSigner(b"t").verify(path, query, 0).access is Access.BAD_SIGNATURE
    assert signer.verify(path, {}, 0).access is Access.BAD_SIGNATURE
    bad_time = SampleSigner(b"s").signature(path, "soon", "image/png")
    assert signer.verify(path, {"se": "soon", "rsct": "image/png", "sig": bad_time}, 0).access is (
        Access.BAD_SIGNATURE
    )
