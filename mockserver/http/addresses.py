"""Which URLs the mock may connect to: judged from the URL alone, never by a DNS lookup."""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import ipaddress
import urllib.parse

LOCALHOST = "localhost"
LOCALHOST_SUFFIX = "." + LOCALHOST
DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_of(parts: urllib.parse.SplitResult) -> str:
    return (parts.hostname or "").rstrip(".").lower()


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (see ``is_loopback_host``)."""
    return is_loopback_host(_host_of(urllib.parse.urlsplit(url)))


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is this machine: ``localhost``, ``*.localhost`` or a loopback literal.

    RFC 6761 reserves ``localhost`` and every name under it for loopback, so none of them
    needs a lookup to be judged (``connect_to`` sends them to ``localhost``).
    """
    host = host.rstrip(".").lower()
    if host == LOCALHOST or host.endswith(LOCALHOST_SUFFIX):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed(url: str, hosts: frozenset[str]) -> bool:
    """Whether the mock may connect to ``url``: loopback, or a host the allow-list names.

    ``hosts`` holds names (``*`` patterns allowed), addresses, networks (CIDR) and any of
    these with ``:PORT``, which then allows that port only.
    """
    parts = urllib.parse.urlsplit(url)
    host = _host_of(parts)
    if is_loopback_host(host):
        return True
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:  # not a number: no port entry can match it
        port = None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in hosts:
        pattern, wanted = _split_port(entry)
        if wanted is not None and wanted != port:
            continue
        if pattern == "*":
            return True
        if address is not None and "/" in pattern:
            with contextlib.suppress(ValueError):
                if address in ipaddress.ip_network(pattern, strict=False):
                    return True
        elif fnmatch.fnmatchcase(host, pattern.lower().strip("[]")):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port`` or ``cidr:port`` into its parts; a bare v6 has no port."""
    head, colon, tail = entry.rpartition(":")
    if not colon or not tail.isdigit() or (":" in head and not head.endswith("]")):
        return entry, None
    return head, int(tail)


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """Where to open the connection for a URL, and the names it keeps on the wire."""

    url: str
    host_header: str | None = None
    """The ``Host`` to send when the connection goes elsewhere than the URL's host."""
    tls_name: str | None = None
    """The name to ask for in TLS (SNI) in that case."""

    @property
    def headers(self) -> dict[str, str]:
        """Headers to add to the request (httpx)."""
        return {} if self.host_header is None else {"host": self.host_header}

    @property
    def extensions(self) -> dict[str, str]:
        """Request extensions (httpx's, for httpcore): the TLS name, when it differs."""
        return {} if self.tls_name is None else {"sni_hostname": self.tls_name}


def connect_to(url: str) -> Target:
    """A ``*.localhost`` URL goes to ``localhost`` with its own Host: no DNS for the name."""
    parts = urllib.parse.urlsplit(url)
    host = _host_of(parts)
    if not host.endswith(LOCALHOST_SUFFIX):
        return Target(url)
    userinfo, at, named = parts.netloc.rpartition("@")
    port = "" if parts.port is None else f":{parts.port}"
    netloc = f"{userinfo}{at}{LOCALHOST}{port}"
    return Target(parts._replace(netloc=netloc).geturl(), named, host)
