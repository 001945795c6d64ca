"""Can this process reach its stores? (for /readyz, and the submit's vault check)"""

from __future__ import annotations

import threading
import time
import weakref

from sqlalchemy import text

from core.runtime import Runtime

# How long one answer to "is the vault writable?" stands for every submit of this process:
# a probe per submit would double the vault round trips of the busiest endpoint, and a
# submission accepted in the second after the vault turned read-only is not lost (the
# worker retries it until the vault takes writes again).
WRITABLE_TTL_S = 1.0
_writable: weakref.WeakKeyDictionary[object, tuple[float, bool]] = weakref.WeakKeyDictionary()
_writable_lock = threading.Lock()


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
        results["vault_writable"] = rt.vault.writable()
    except Exception:
        results["vault_writable"] = False
    try:
        results["redis"] = bool(rt.redis.ping())
    except Exception:
        results["redis"] = False
    return results


def vault_writable(rt: Runtime, *, now: float | None = None) -> bool:
    """The vault's writability, asked at most once per WRITABLE_TTL_S per runtime.

    A store that does not answer raises (the api turns that into 503 as well).
    """
    moment = time.monotonic() if now is None else now
    key = rt.vault
    with _writable_lock:
        cached = _writable.get(key)
    if cached is not None and moment - cached[0] < WRITABLE_TTL_S:
        return cached[1]
    answer = rt.vault.writable()
    with _writable_lock:
        _writable[key] = (moment, answer)
    return answer
