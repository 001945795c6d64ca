"""Redis and PostgreSQL server counters, read around a phase to give round trips per
submission."""

from __future__ import annotations

import time

import project_paths  # noqa: F401  (before support.*)
import redis
from service_under_test import Service


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
        return {k: (after[k] - before[k]) / max(n, 1) for k in after}

    def close(self) -> None:
        self.redis.close()
