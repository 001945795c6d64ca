"""The retention purge: past-date submissions deleted in batches, their month keys shredded,
and an audit entry of the counts per site."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core import audit
from core.clock import rfc3339, utcnow
from core.locks import HeldLock
from core.runtime import Runtime
from vault import purge_expired
from vault.retention import Progress

PURGE_LOCK_TTL_S = 6 * 3600


class PurgeBusy(Exception):
    """Another purge is running; this one did nothing."""


def run_purge(
    rt: Runtime,
    *,
    as_of: datetime | None = None,
    dry_run: bool = False,
    batch: int = 1000,
    progress: Progress | None = None,
) -> dict[str, Any]:
    moment = as_of or utcnow()
    with HeldLock(rt, "retention-purge", PURGE_LOCK_TTL_S) as lock:
        if not lock.acquired:
            raise PurgeBusy()
        result = purge_expired(rt.vault, moment, batch=batch, dry_run=dry_run, progress=progress)
    sites = sorted(set(result.deleted_by_site) | {s for _k, s, _p in result.data_keys_destroyed})
    if not dry_run:
        for site_id in sites:
            shredded = [p for _k, s, p in result.data_keys_destroyed if s == site_id]
            audit.record(
                rt,
                site_id=site_id,
                type="retention.purged",
                resource=(
                    f"submissions={result.deleted_by_site.get(site_id, 0)};"
                    f"months_shredded={','.join(sorted(shredded)) or '-'};"
                    f"as_of={rfc3339(moment)}"
                ),
            )
    return {
        "as_of": rfc3339(moment),
        "dry_run": dry_run,
        "deleted": result.deleted,
        "deleted_by_site": dict(result.deleted_by_site),
        "data_keys_destroyed": [
            {"id": key_id, "site_id": site_id, "period": period}
            for key_id, site_id, period in result.data_keys_destroyed
        ],
    }
