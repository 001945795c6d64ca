"""Redis and PostgreSQL server counters, read around a phase to give round trips per
submission, and the app Redis's footprint: the memory and keys a submission leaves."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

import project_paths  # noqa: F401  (before support.*)
import redis
from service_under_test import Service

_TOTALS = ("redis commands", "redis connections")


class StoreCounters:
    """Server-side counters, to turn into round trips per submission."""

    def __init__(self, service: Service) -> None:
        url = service.env.get("SECUREFORMS_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.redis = redis.Redis.from_url(url)
        self.pg_names = list(service.stack._pg_names) if service.stack else []

    def snapshot(self) -> dict[str, int]:
        stats = self.redis.info("stats")
        out = {
            "redis commands": int(stats["total_commands_processed"]),
            "redis connections": int(stats["total_connections_received"]),
        }
        # Per command name too, to see which round trips a change saved (printed apart).
        for name, figures in self.redis.info("commandstats").items():
            out["redis " + name.removeprefix("cmdstat_")] = int(figures["calls"])
        if self.pg_names:
            import sqlalchemy as sa
            from support.stack import PG_ADMIN_URL

            time.sleep(1.1)  # backends flush their statistics about once a second
            engine = sa.create_engine(PG_ADMIN_URL)
            with engine.connect() as conn:
                row = conn.execute(
                    sa.text(
                        "SELECT sum(sessions), sum(xact_commit) FROM pg_stat_database "
                        "WHERE datname = ANY(:names)"
                    ),
                    {"names": self.pg_names},
                ).one()
            engine.dispose()
            out["postgres sessions"], out["postgres commits"] = int(row[0]), int(row[1])
        return out

    @staticmethod
    def per(before: dict[str, int], after: dict[str, int], n: int) -> dict[str, float]:
        return {k: (after[k] - before.get(k, 0)) / max(n, 1) for k in after}

    @staticmethod
    def split(per: dict[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """The totals, and the Redis commands by name (most frequent first)."""
        totals = {k: v for k, v in per.items() if not k.startswith("redis ") or k in _TOTALS}
        names = {k.removeprefix("redis "): v for k, v in per.items() if k not in totals and v}
        return totals, dict(sorted(names.items(), key=lambda kv: -kv[1]))

    def close(self) -> None:
        self.redis.close()


# A key segment that names one thing (a UUID, a token, a hash): shown as "*" in a key's shape.
_ONE_OF_MANY = re.compile(r"(?=.*\d)[\w.-]{12,}")


def key_shape(key: bytes) -> str:
    """sf:events:<site>:visitor:<conversation> -> sf:events:*:visitor:*"""
    parts = key.decode(errors="replace").split(":")
    return ":".join("*" if _ONE_OF_MANY.fullmatch(p) else p for p in parts)


@dataclass
class Footprint:
    used_memory: int  # the whole server's (the benchmark's Redis is its own)
    keys: int  # the app database's
    bytes_by_shape: Counter[str]
    keys_by_shape: Counter[str]


class RedisFootprint:
    """The app Redis read around a phase: what its submissions left behind (until their
    TTLs run out). MEMORY USAGE of every key: for a phase's end, not for a soak's ticks."""

    def __init__(self, service: Service) -> None:
        url = service.env.get("SECUREFORMS_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.redis = redis.Redis.from_url(url)

    def used_memory(self) -> int:
        return int(self.redis.info("memory")["used_memory"])

    def snapshot(self) -> Footprint:
        sizes: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        keys = list(self.redis.scan_iter(count=1000))
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            pipe = self.redis.pipeline(transaction=False)
            for key in chunk:
                pipe.memory_usage(key, samples=0)
            for key, size in zip(chunk, pipe.execute(), strict=True):
                if size is not None:  # expired since the scan
                    sizes[key_shape(key)] += int(size)
                    counts[key_shape(key)] += 1
        return Footprint(self.used_memory(), int(self.redis.dbsize()), sizes, counts)

    @staticmethod
    def report(before: Footprint, after: Footprint, n: int) -> dict[str, object]:
        """Prints bytes and keys per submission, and the key shapes that grew most."""
        grown = after.bytes_by_shape.copy()
        grown.subtract(before.bytes_by_shape)
        added = after.keys_by_shape.copy()
        added.subtract(before.keys_by_shape)
        delta, keys = after.used_memory - before.used_memory, after.keys - before.keys
        print(
            f"  app Redis: {delta / max(n, 1):.0f} bytes per submission (used_memory"
            f" {before.used_memory / 1e6:.1f} -> {after.used_memory / 1e6:.1f} MB),"
            f" {keys:+d} keys ({keys / max(n, 1):.2f} per submission)"
        )
        top = [(shape, b) for shape, b in grown.most_common(6) if b > 0]
        print(
            "    by key shape (bytes per submission, keys added): "
            + ";  ".join(f"{shape} {b / max(n, 1):.0f} B, {added[shape]:+d}" for shape, b in top)
        )
        return {
            "bytes_per_submission": delta / max(n, 1),
            "keys_added": keys,
            "bytes_per_submission_by_shape": {s: b / max(n, 1) for s, b in top},
            "keys_added_by_shape": {s: added[s] for s, _ in top},
        }

    def close(self) -> None:
        self.redis.close()
