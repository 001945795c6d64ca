"""A site of a test's own, made with `secureforms site create`, its admin signed in.

Tests that change a site's policies, count its audit entries or play one site against
another make one of these, so they touch nobody else's data.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from support.flow import Desk
from support.stack import PAYMENT_FORM, Stack, choose_own_password

API = "/api/v1"
ADMIN_PASSWORD = "admin-password-1"


@dataclass
class OwnSite:
    stack: Stack
    site_id: str
    admin_id: str
    admin: dict[str, str]

    @classmethod
    def make(cls, stack: Stack) -> OwnSite:
        made = stack.create_site("admin", ADMIN_PASSWORD)
        site = cls(stack, made["site_id"], made["admin_id"], {})
        site.admin = site.login("admin", ADMIN_PASSWORD)
        return site

    def call(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """`path` is under /api/v1 unless it names another root."""
        url = path if path.startswith("/api/") else API + path
        with self.stack.client() as c:
            return c.request(method, url, headers=headers or {}, json=body)

    def login_response(
        self, username: str, password: str, code: str | None = None
    ) -> httpx.Response:
        body = {"site_id": self.site_id, "username": username, "password": password}
        if code is not None:
            body["totp"] = code
        return self.call("POST", "/auth/login", body=body)

    def token(self, username: str, password: str, code: str | None = None) -> str:
        r = self.login_response(username, password, code)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def login(self, username: str, password: str, code: str | None = None) -> dict[str, str]:
        return self.headers(self.token(username, password, code))

    @staticmethod
    def headers(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def user(self, role: str = "agent", profile_id: str | None = None) -> tuple[str, str, str]:
        """A new user: (id, username, password)."""
        username, password = f"{role}-{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
        body = {"username": username, "password": password, "role": role, "display_name": role}
        if profile_id:
            body["profile_id"] = profile_id
        r = self.call("POST", "/users", self.admin, body)
        assert r.status_code == 201, r.text
        with self.stack.client() as c:
            password = choose_own_password(c, self.site_id, username, password)
        return str(r.json()["id"]), username, password

    def signed_in(
        self, role: str = "agent", profile_id: str | None = None
    ) -> tuple[str, dict[str, str]]:
        """A new user, signed in: (id, headers)."""
        user_id, username, password = self.user(role, profile_id)
        return user_id, self.login(username, password)

    def profile(self, role: str, permissions: list[str], name: str | None = None) -> str:
        body = {
            "name": name or f"p-{uuid.uuid4().hex[:6]}",
            "role": role,
            "permissions": permissions,
        }
        r = self.call("POST", "/profiles", self.admin, body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def policies(self, **changes: Any) -> dict[str, Any]:
        r = self.call("PUT", "/site/policies", self.admin, changes)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def trail(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        r = self.call("GET", f"/audit?{query}", self.admin)
        assert r.status_code == 200, r.text
        return list(r.json()["events"])

    def verify(self, *scope: str) -> tuple[int, str, str]:
        """`secureforms audit verify`: (exit code, stdout, stderr)."""
        result = self.stack.cli("audit", "verify", *scope, check=False)
        return result.returncode, result.stdout, result.stderr

    def site_key(self, *scopes: str, name: str = "chat platform") -> dict[str, str]:
        """Headers with a new key of this site, made by `secureforms site api-key`."""
        args = ["site", "api-key", self.site_id, "--name", name]
        for scope in scopes:
            args += ["--scope", scope]
        key = json.loads(self.stack.cli(*args).stdout)["api_key"]
        return self.headers(key)

    def desk(self) -> Desk:
        """The shared flow helpers, on this site: a form and an agent ready to send."""
        definition = {**PAYMENT_FORM, "name": f"payment_{uuid.uuid4().hex[:8]}"}
        form_id = self.stack.create_form(self.admin, definition)
        agent_id, agent = self.signed_in("agent")
        return Desk(self.stack, self.admin, form_id, agent_id, agent)
