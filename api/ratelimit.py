"""Rate limits, and the one answer to "which client is this".

Limits are moving windows (the `limits` library) kept in the app's Redis, so every api
process counts together. A kind of request is limited per client address (an IPv6 client
per /64, what one host is usually given); a log-in also per account (site + username:
guesses spread over many addresses still meet it) and per site (a flood against one
tenant is held back whatever its sources).

`client_address` is what rate limits and the audit trail call the client. It believes
X-Forwarded-For only on a connection from a proxy the operator named
(`forwarded_allow_ips`), and then takes the rightmost address no trusted proxy added: a
client can put anything at the left of the header, but every trusted proxy appends the
address it saw. (uvicorn's own header handling is off: it trusts 127.0.0.1 by default.)
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool
from starlette.requests import Request

from api.errors import ApiError
from api.metrics import RATE_LIMITED
from configs import Settings
from core.usernames import normalise

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# How a kind's per-address limit scales to its other scopes.
ACCOUNT_SHARE = 3  # an account gets a third of an address's log-in attempts
SITE_FACTOR = 10  # a site takes ten addresses' worth
ADDRESS, ACCOUNT, SITE = "address", "account", "site"
# An IPv6 host is usually given a whole /64: one address each would give it 2**64 buckets.
IPV6_PREFIX = 64


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in allowed)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in proxies)


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(request: Request) -> str:
    """The client's address, as rate limits and the audit trail know it."""
    peer = request.client.host if request.client else "unknown"
    settings: Settings = request.app.state.services.settings
    proxies = _networks(settings.forwarded_allow_ips or ())
    if not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            # Garbage where the client's address should be: the proxy is all we know.
            return _address(hop) or peer
    # Every hop is a proxy of ours: the leftmost is as far back as anyone can tell.
    return (_address(hops[0]) if hops else None) or peer


def bucket_of(address: str) -> str:
    """The rate-limit bucket of a client address: itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # a dual-stack socket's view of an IPv4 client
            return str(ip.ipv4_mapped)
        low = int(ip) >> (128 - IPV6_PREFIX) << (128 - IPV6_PREFIX)
        return str(ipaddress.IPv6Network((low, IPV6_PREFIX)))
    return str(ip)


def limits_for(settings: Settings) -> dict[tuple[str, str], RateLimitItem]:
    """(kind, scope) -> its limit."""
    login, otk = settings.login_rate_per_minute, settings.otk_rate_per_minute
    return {
        ("login", ADDRESS): RateLimitItemPerMinute(login),
        ("login", ACCOUNT): RateLimitItemPerMinute(max(1, login // ACCOUNT_SHARE)),
        ("login", SITE): RateLimitItemPerMinute(login * SITE_FACTOR),
        ("otk", ADDRESS): RateLimitItemPerMinute(otk),
    }


def _digest(*parts: str) -> str:
    # Usernames are what people type into the password box by mistake: keys hold hashes.
    joined = "\n".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(joined).hexdigest()


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self._pool = ConnectionPool.from_url(settings.redis_url)
        # Our own pool, so that closing the api closes its connections (typed loosely by
        # `limits`, which hands it on to redis-py).
        shared: dict[str, Any] = {"connection_pool": self._pool}
        storage = RedisStorage(
            "async+" + settings.redis_url, implementation="redispy", key_prefix="sf:rate", **shared
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._limits = limits_for(settings)

    async def check(self, kind: str, address: str) -> None:
        """Count a request of `kind` from `address`; 429 once over its limit."""
        await self._hit(kind, ADDRESS, bucket_of(address))

    async def check_login(self, site_id: str, username: str) -> None:
        """Count a log-in attempt against its account and its site; 429 once over. The
        account is the name as sign-in reads it (" victim" and a full-width one are
        "victim")."""
        await self._hit("login", SITE, _digest(site_id))
        await self._hit("login", ACCOUNT, _digest(site_id, normalise(username)))

    async def _hit(self, kind: str, scope: str, who: str) -> None:
        limit = self._limits[(kind, scope)]
        if await self._limiter.hit(limit, kind, scope, who):
            return
        RATE_LIMITED.labels(kind).inc()
        stats = await self._limiter.get_window_stats(limit, kind, scope, who)
        retry_after = max(1, int(stats.reset_time - time.time()) + 1)
        raise ApiError(
            429,
            "rate_limited",
            "Too many attempts; wait a moment and try again.",
            headers={"Retry-After": str(retry_after)},
        )

    async def close(self) -> None:
        await self._pool.disconnect()
