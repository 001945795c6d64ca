"""Untimed setup: an admin makes a form and agents; forms are sent and opened, ready to
submit."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import project_paths  # noqa: F401  (before support.*)
from keepalive_http import HttpPool
from service_under_test import Service
from support.stack import PAYMENT_FORM


@dataclass
class Desk:
    pool: HttpPool
    form_id: str
    agents: list[dict[str, str]]


@dataclass(frozen=True)
class Ready:
    request_id: str
    submit_otk: str


async def make_desk(pool: HttpPool, service: Service, agents: int) -> Desk:
    site = service.site_id

    async def login(username: str, password: str) -> dict[str, str]:
        body = {"site_id": site, "username": username, "password": password}
        answer = await pool.call("POST", "/api/v1/auth/login", body)
        return {"Authorization": f"Bearer {answer['token']}"}

    admin = await login(*service.admin)
    form = {**PAYMENT_FORM, "name": f"bench_{uuid.uuid4().hex[:8]}"}
    form_id = (await pool.call("POST", "/api/v1/forms", form, admin, expect=201))["id"]

    async def agent(i: int) -> dict[str, str]:
        username, password = f"bench-{uuid.uuid4().hex[:8]}-{i}", f"pw-{uuid.uuid4().hex}"
        user = {"username": username, "password": password, "role": "agent"}
        await pool.call("POST", "/api/v1/users", user, admin, expect=201)
        # An admin chose that password: the agent must choose one of its own first.
        own = {"current_password": password, "new_password": f"pw-{uuid.uuid4().hex}"}
        first = await login(username, password)
        await pool.call("POST", "/api/v1/auth/password", own, first, expect=204)
        return await login(username, own["new_password"])

    return Desk(pool, form_id, list(await asyncio.gather(*(agent(i) for i in range(agents)))))


async def prepare(desk: Desk, count: int, concurrency: int = 32) -> list[Ready]:
    """`count` forms sent and opened: each one's request id and submit key."""
    pool, numbers = desk.pool, iter(range(count))
    ready: list[Ready] = []

    async def one(i: int) -> None:
        agent = desk.agents[i % len(desk.agents)]
        conv = await pool.call(
            "POST", "/api/v1/conversations", {"visitor": {"name": "V"}}, agent, expect=201
        )
        sent = await pool.call(
            "POST",
            f"/api/v1/conversations/{conv['id']}/secure-forms",
            {"form_id": desk.form_id},
            agent,
            expect=201,
        )
        opened = await pool.call("POST", "/api/v1/visitor/open", {"otk": sent["otk"]})
        ready.append(Ready(sent["request_id"], opened["submit_otk"]))

    async def lane() -> None:
        for i in numbers:
            await one(i)

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return ready
