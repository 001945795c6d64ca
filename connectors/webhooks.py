"""Signed webhook delivery: where a webhook may point (the SSRF guard), how a body is
signed, and the one POST that carries it.

The guard runs twice: when an admin registers a URL, and again at every delivery, on the
addresses the name resolves to *then*. The connection goes to the address that was
checked (with the name kept for Host, SNI and the certificate), so a name that resolves
to a public address for the check and to 127.0.0.1 a moment later (DNS rebinding) never
reaches the inside. Hand-written on urllib3 because `requests` resolves names itself,
after any check we could make; the one maintained SSRF wrapper for it (advocate) has not
been released since 2020.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

TIMEOUT_S = 10.0
MAX_URL = 2000
SIGNATURE_HEADER = "Secureforms-Signature"
EVENT_ID_HEADER = "Secureforms-Event-Id"
EVENT_TYPE_HEADER = "Secureforms-Event"
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")

Resolver = Callable[[str, int], Sequence[str]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    """The URL or an address it resolves to is not allowed; the message says why."""


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to now (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # a scope id names no other host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def public(address: Address) -> bool:
    """Reachable on the internet: not loopback, private, link-local (169.254.169.254, the
    cloud metadata service, is link-local), shared (100.64/10), reserved or multicast."""
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Policy:
    """Where webhooks may go. Production: https to public addresses only. Development
    and test also allow http to this machine's loopback (a receiver the test starts)."""

    production: bool
    own_url: str  # the site's public URL: a webhook to our own API is refused
    resolver: Resolver = resolve

    def check(self, url: object) -> str | None:
        """Why `url` can't be a webhook, or None. Names are resolved: a name that points
        inside is refused now, as it would be at delivery."""
        try:
            self.addresses(url)
        except Refused as exc:
            return str(exc)
        return None

    def addresses(self, url: object) -> list[str]:
        """The checked addresses to connect to for `url`, or Refused."""
        host, port, scheme = self._parts(url)
        try:
            found = [host] if _is_ip(host) else list(self.resolver(host, port))
        except (OSError, UnicodeError):
            raise Refused("The host name does not resolve.") from None
        if not found:
            raise Refused("The host name does not resolve.")
        for text in found:
            address = _address(text)
            if self.production or not address.is_loopback:
                if scheme == "http":
                    raise Refused("Must be https:// (http:// only to this machine in tests).")
                if not public(address):
                    raise Refused(
                        "Must point to a public address: loopback, private, link-local and "
                        "metadata addresses are refused."
                    )
        return found

    def _parts(self, url: object) -> tuple[str, int, str]:
        if not isinstance(url, str) or not url or len(url) > MAX_URL:
            raise Refused(f"Must be an https:// URL of at most {MAX_URL} characters.")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise Refused("Not a valid URL.") from None
        host = (parts.hostname or "").rstrip(".")
        allowed = ("https",) if self.production else ("https", "http")
        if parts.scheme not in allowed or not host:
            raise Refused("Must be an https:// URL.")
        if parts.username is not None or parts.password is not None:
            raise Refused("Must not carry a user name or password.")
        if parts.fragment:
            raise Refused("Must not have a #fragment.")
        if any(c.isspace() or ord(c) < 32 for c in url):
            raise Refused("Must not contain spaces or control characters.")
        effective = port or (443 if parts.scheme == "https" else 80)
        if self._is_own(host, effective):
            raise Refused("Must not point to this service's own API.")
        if self.production and host.lower() in _LOOPBACK_NAMES:
            raise Refused("Must point to a public address, not this machine.")
        return host, effective, parts.scheme

    def _is_own(self, host: str, port: int) -> bool:
        own = urlsplit(self.own_url)
        own_host = (own.hostname or "").rstrip(".").lower()
        own_port = own.port or (443 if own.scheme == "https" else 80)
        # In production any port of our own host; elsewhere the receiver a test starts
        # shares 127.0.0.1 with the api, so the port tells them apart.
        return host.lower() == own_host and (self.production or port == own_port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def signature(secrets: Sequence[str], body: bytes, at: int) -> str:
    """`t=<unix>,v1=<hex>` with one v1 per secret (the current first, then the old one
    while a rotation overlaps): HMAC-SHA256 of "<t>.<raw body>"."""
    signed = f"{at}.".encode() + body
    parts = [f"t={at}"]
    for secret in secrets:
        parts.append("v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: the receiver's status code, or why there was none."""

    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    policy: Policy,
    url: str,
    body: bytes,
    *,
    event_id: str,
    event_type: str,
    secrets: Sequence[str],
    now: Callable[[], float] = time.time,
    timeout_s: float = TIMEOUT_S,
) -> Attempt:
    """POST one signed event to `url` (guarded_post)."""
    headers = {
        "User-Agent": "secureforms-webhooks/1",
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        SIGNATURE_HEADER: signature(secrets, body, int(now())),
    }
    return guarded_post(policy, url, body, headers, timeout_s=timeout_s)


def guarded_post(
    policy: Policy,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_s: float = TIMEOUT_S,
) -> Attempt:
    """POST a JSON `body` to `url`, checked again now and connected to the checked
    address; never follows a redirect. Answers are read no further than their status.
    Every outbound call of the connectors that goes where a site told it goes here."""
    try:
        addresses = policy.addresses(url)
    except Refused as exc:
        return Attempt(None, f"refused: {exc}")
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    sent = {
        "Host": parts.netloc.rpartition("@")[2],
        "Content-Type": "application/json",
        **headers,
    }
    timeout = urllib3.Timeout(connect=min(timeout_s, 5.0), read=timeout_s, total=timeout_s)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            addresses[0],
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            timeout=timeout,
            retries=False,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            addresses[0], port, timeout=timeout, retries=False, maxsize=1
        )
    try:
        with pool:
            answer = pool.urlopen(
                "POST",
                target,
                body=body,
                headers=sent,
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
            answer.release_conn()
            return Attempt(answer.status)
    except urllib3.exceptions.NewConnectionError:  # a TimeoutError subclass in urllib3 2
        return Attempt(None, "could not connect")
    except urllib3.exceptions.TimeoutError:
        return Attempt(None, f"timed out after {timeout_s:g} s")
    except urllib3.exceptions.SSLError:
        return Attempt(None, "TLS failed (certificate or handshake)")
    except (urllib3.exceptions.HTTPError, OSError):
        return Attempt(None, "could not connect")
