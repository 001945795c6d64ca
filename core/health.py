"""Can this process reach its stores? (for /readyz)"""

from __future__ import annotations

from sqlalchemy import text

from core.runtime import Runtime


def check_stores(rt: Runtime) -> dict[str, bool]:
    results: dict[str, bool] = {}
    for name, engine in (("app_db", rt.app_engine), ("vault_db", rt.vault.engine)):
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            results[name] = True
        except Exception:
            results[name] = False
    try:
        results["redis"] = bool(rt.redis.ping())
    except Exception:
        results["redis"] = False
    return results
