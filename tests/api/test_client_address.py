"""`client_address`: X-Forwarded-For believed only from the proxies the operator named,
and then its rightmost address that no trusted proxy added."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from api.ratelimit import client_address
from configs import load_settings


def _request(peer: str, forwarded: list[str], allow: str) -> Request:
    settings = load_settings({"SECUREFORMS_FORWARDED_ALLOW_IPS": allow})
    app = SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(settings=settings)))
    headers = [(b"x-forwarded-for", v.encode()) for v in forwarded]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": headers,
        "client": (peer, 50000),
        "app": app,
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "forwarded", "allow", "seen"),
    [
        # No proxy named: the header is the client's to write, so it is ignored.
        ("127.0.0.1", ["203.0.113.7"], "none", "127.0.0.1"),
        ("198.51.100.2", ["203.0.113.7"], "10.0.0.0/8", "198.51.100.2"),
        # From a named proxy: the address it appended.
        ("10.0.0.5", ["203.0.113.7"], "10.0.0.0/8", "203.0.113.7"),
        # A client's own prefix is skipped: only the rightmost untrusted hop counts.
        ("10.0.0.5", ["1.2.3.4, 203.0.113.7"], "10.0.0.0/8", "203.0.113.7"),
        ("10.0.0.5", ["1.2.3.4", "203.0.113.7, 10.0.0.9"], "10.0.0.0/8", "203.0.113.7"),
        # Garbage where the client should be, or no header: the proxy is all we know.
        ("10.0.0.5", ["1.2.3.4, not-an-ip"], "10.0.0.0/8", "10.0.0.5"),
        ("10.0.0.5", [], "10.0.0.0/8", "10.0.0.5"),
        ("::1", ["2001:db8::1"], "::1", "2001:db8::1"),
    ],
)
def test_client_address(peer: str, forwarded: list[str], allow: str, seen: str) -> None:
    assert client_address(_request(peer, forwarded, allow)) == seen
