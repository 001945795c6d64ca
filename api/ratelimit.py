"""Fixed-window rate limits in Redis, per client address and limit class (login, otk)."""

from __future__ import annotations

import time

from redis.asyncio import Redis as AsyncRedis
from starlette.requests import Request

from api.errors import ApiError


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class RateLimiter:
    def __init__(self, redis_url: str, limits_per_minute: dict[str, int]) -> None:
        self._redis = AsyncRedis.from_url(redis_url)
        self._limits = limits_per_minute

    async def check(self, kind: str, address: str) -> None:
        limit = self._limits[kind]
        window = int(time.time() // 60)
        key = f"sf:rate:{kind}:{address}:{window}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = await pipe.execute()
        if int(count) > limit:
            retry_after = 60 - int(time.time()) % 60
            raise ApiError(
                429,
                "rate_limited",
                "Too many attempts; wait a moment and try again.",
                headers={"Retry-After": str(retry_after)},
            )

    async def close(self) -> None:
        await self._redis.aclose()
