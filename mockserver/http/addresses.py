"""Which URLs the mock may connect to: judged from the URL alone, never by a DNS lookup."""

from __future__ import annotations

import ipaddress
import urllib.parse

LOCALHOST = "localhost"


def host_of(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine: ``localhost`` or a loopback address literal."""
    host = host_of(url)
    if host == LOCALHOST:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
