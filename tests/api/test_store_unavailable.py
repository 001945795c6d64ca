"""A store that does not answer is 503 `unavailable` (try again), never a 500.

The api runs in process against stores that are not there: Redis, or the vault database,
on a port where nothing listens (a connection refused, as while it restarts). The outage
rows of tests/integration/test_outages.py show the same on real processes and restarts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from starlette.testclient import TestClient
from support import redis_dbs
from support.inprocess import BASE_URL
from support.stack import free_port

from api.app import create_app
from configs import load_settings

SUBMIT = {"otk": "k" * 43, "values": {"name": "x"}}


@pytest.fixture
def without(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    """An api whose Redis (or vault DB) is a closed port; everything else is in place."""
    nowhere = free_port()
    db = redis_dbs.acquire()
    env = {
        "SECUREFORMS_ENV": "test",
        "SECUREFORMS_DATA_DIR": str(tmp_path),
        "SECUREFORMS_APP_DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3",
        "SECUREFORMS_VAULT_DATABASE_URL": f"sqlite:///{tmp_path}/vault.sqlite3",
        "SECUREFORMS_REDIS_URL": redis_dbs.url(db),
        "SECUREFORMS_BROKER_URL": f"redis://127.0.0.1:{nowhere}/0",
        "SECUREFORMS_PUBLIC_URL": BASE_URL,
    }
    if request.param == "redis":
        env["SECUREFORMS_REDIS_URL"] = f"redis://127.0.0.1:{nowhere}/0"
    else:
        env["SECUREFORMS_VAULT_DATABASE_URL"] = (
            f"postgresql+psycopg://postgres@127.0.0.1:{nowhere}/vault"
        )
    try:
        app = create_app(load_settings(env))
        with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
            yield client
    finally:
        with redis.Redis.from_url(redis_dbs.url(db)) as left:
            left.flushdb()
        redis_dbs.release(db)


def _unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable"
    assert r.headers["retry-after"]
    assert "no-store" in r.headers["cache-control"]


@pytest.mark.parametrize("without", ["redis"], indirect=True)
def test_no_redis_is_503_on_every_kind_of_call(without: TestClient) -> None:
    _unavailable(without.post("/api/v1/visitor/submit", json=SUBMIT))
    _unavailable(without.post("/api/v1/visitor/open", json={"otk": "k" * 43}))
    _unavailable(
        without.post("/api/v1/auth/login", json={"site_id": "s", "username": "u", "password": "p"})
    )
    assert without.get("/readyz").json()["checks"]["redis"] is False


@pytest.mark.parametrize("without", ["vault"], indirect=True)
def test_no_vault_database_refuses_submits_with_503(without: TestClient) -> None:
    # Before the key is even looked at: a submit the vault cannot take spends nothing.
    _unavailable(without.post("/api/v1/visitor/submit", json=SUBMIT))
    ready = without.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["vault_writable"] is False
