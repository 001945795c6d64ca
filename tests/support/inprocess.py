"""The api in this process: the app built by the api's own factory, driven with Starlette's
TestClient, on SQLite files migrated with the real migrations and Redis databases of its
own (support.redis_dbs). No uvicorn, no worker: for what one request does, in milliseconds.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from starlette.testclient import TestClient

from api.app import create_app
from configs import Settings, load_settings
from core.api_keys import make_key
from core.runtime import Runtime, migrate
from core.sites import create_site
from support import redis_dbs
from support.stack import choose_own_password

ADMIN_PASSWORD = "admin-password-1"
BASE_URL = "http://127.0.0.1:8000"  # the test environment's public_url


@dataclass
class Api:
    """The app and its client; speaks like support.stack.Stack where support.flow.Desk
    needs it (client, admin_headers, create_form, new_agent)."""

    http: TestClient
    settings: Settings
    env: dict[str, str]  # the SECUREFORMS_* variables the settings were made from
    site_id: str
    api_key: str

    def login(self, username: str, password: str) -> str:
        r = self.http.post(
            "/api/v1/auth/login",
            json={"site_id": self.site_id, "username": username, "password": password},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def page_csrf(self, token: str, page: str = "/admin") -> str:
        """The CSRF token a signed-in page carries for its scripts' writes."""
        r = self.http.get(page, headers=session_cookie(token))
        assert r.status_code == 200, r.text[:500]
        found = re.search(r'<meta name="csrf-token" content="([^"]+)">', r.text)
        assert found, "the page carries no CSRF token"
        return found.group(1)

    # -- what support.flow.Desk asks of a stack ------------------------------------------
    def client(self) -> AbstractContextManager[TestClient]:
        return nullcontext(self.http)  # one client for the session: not closed per use

    def admin_headers(self) -> dict[str, str]:
        return bearer(self.login("admin", ADMIN_PASSWORD))

    def create_form(self, admin: dict[str, str], definition: dict[str, Any]) -> str:
        r = self.http.post("/api/v1/forms", headers=admin, json=definition)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def new_user(self, admin: dict[str, str], role: str = "agent") -> tuple[str, str]:
        """A new user of the site, signed in: (its id, its bearer token)."""
        username, password = f"{role}-{secrets.token_hex(4)}", f"pw-{secrets.token_hex(8)}"
        r = self.http.post(
            "/api/v1/users",
            headers=admin,
            json={"username": username, "password": password, "role": role},
        )
        assert r.status_code == 201, r.text
        own = choose_own_password(self.http, self.site_id, username, password)
        return str(r.json()["id"]), self.login(username, own)

    def new_agent(self, admin: dict[str, str]) -> tuple[str, dict[str, str]]:
        user_id, token = self.new_user(admin)
        return user_id, bearer(token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_cookie(token: str) -> dict[str, str]:
    """The pages' session cookie, as a browser would send it (plain http: no __Host-)."""
    return {"Cookie": f"sf_session={token}"}


@contextmanager
def inprocess_api(data_dir: Path) -> Iterator[Api]:
    with redis_dbs.locked_db() as redis_db, redis_dbs.locked_db() as broker_db:
        env = {
            "SECUREFORMS_ENV": "test",
            "SECUREFORMS_DATA_DIR": str(data_dir),
            "SECUREFORMS_APP_DATABASE_URL": f"sqlite:///{data_dir}/app.sqlite3",
            "SECUREFORMS_VAULT_DATABASE_URL": f"sqlite:///{data_dir}/vault.sqlite3",
            "SECUREFORMS_REDIS_URL": redis_dbs.url(redis_db),
            "SECUREFORMS_BROKER_URL": redis_dbs.url(broker_db),
            "SECUREFORMS_PUBLIC_URL": BASE_URL,
        }
        settings = load_settings(env)
        _flush(redis_db, broker_db)
        migrate(settings)
        rt = Runtime.from_settings(settings)
        try:
            site_id = create_site(rt, "In-process site", "admin", ADMIN_PASSWORD)["site_id"]
            api_key = make_key(rt, site_id, "tests")["api_key"]
        finally:
            rt.close()
        app = create_app(settings)
        try:
            with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
                yield Api(client, settings, env, site_id, api_key)
        finally:
            _flush(redis_db, broker_db)


def _flush(*dbs: int) -> None:
    for db in dbs:
        with redis.Redis.from_url(redis_dbs.url(db)) as client:
            client.flushdb()
