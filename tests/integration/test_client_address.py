"""Who the client is, behind a proxy or not, and the limits that follow (issue 11, item 4),
against real api processes and Redis.

Without `forwarded_allow_ips`, X-Forwarded-For is the client's own invention: it changes
neither the rate-limit bucket nor the audit's origin (uvicorn used to believe it from
127.0.0.1). With the proxy named, each client behind it gets a bucket of its own, picked
by the rightmost address the proxy appended. Log-ins are also limited per account and
per site, however many addresses they come from.

The stacks here allow 3 log-ins a minute per address, so 1 per account and 30 per site.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.stack import Stack

RATE = 3
ACCOUNT_RATE, SITE_RATE = 1, 30  # api.ratelimit: a third per account, ten times per site


def _stack(tmp_path_factory: pytest.TempPathFactory, name: str, allow: str) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp(name)
    s = Stack.build(
        "sqlite",
        "redis",
        data_dir,
        SECUREFORMS_LOGIN_RATE_PER_MINUTE=str(RATE),
        SECUREFORMS_FORWARDED_ALLOW_IPS=allow,
    )
    try:
        s.start_api()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _stack(tmp_path_factory, "direct", "none")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _stack(tmp_path_factory, "proxied", "127.0.0.1")


def _attempt(
    stack: Stack, forwarded: str, *, site_id: str | None = None, username: str | None = None
) -> int:
    """One failed log-in (an unknown user, or a wrong password); answers the status."""
    with stack.client() as c:
        r = c.post(
            "/api/v1/auth/login",
            headers={"X-Forwarded-For": forwarded},
            json={
                "site_id": site_id or str(uuid.uuid4()),
                "username": username or f"nobody-{uuid.uuid4().hex[:8]}",
                "password": "not-the-password-1",
            },
        )
    if r.status_code == 429:
        assert r.json()["error"] == "rate_limited" and int(r.headers["retry-after"]) >= 1
    return r.status_code


def _failed_login_origins(stack: Stack) -> set[str]:
    engine = stack.engines()["app"]
    with engine.connect() as conn:
        found = set(
            conn.exec_driver_sql(
                "SELECT origin FROM audit_events WHERE type = 'auth.login' AND outcome = 'failure'"
            ).scalars()
        )
    engine.dispose()
    return found


def test_without_a_trusted_proxy_the_header_picks_no_bucket_and_no_origin(direct: Stack) -> None:
    # A real account, so the attempt is audited with its origin.
    status = _attempt(direct, "203.0.113.50", site_id=direct.site_id, username="admin")
    statuses = [status] + [_attempt(direct, f"203.0.113.{i}") for i in range(RATE)]
    assert statuses == [401] * RATE + [429]
    assert _failed_login_origins(direct) == {"127.0.0.1"}


def test_behind_a_named_proxy_each_client_has_its_own_bucket(proxied: Stack) -> None:
    statuses = [_attempt(proxied, f"198.51.100.{i}") for i in range(2 * RATE)]
    assert statuses == [401] * (2 * RATE)
    # What a client writes at the left of the header doesn't choose its bucket.
    spoofed = [_attempt(proxied, f"192.0.2.{i}, 203.0.113.9") for i in range(RATE + 1)]
    assert spoofed == [401] * RATE + [429]
    # ...nor the audit's origin: the rightmost address the proxy appended does.
    assert _attempt(proxied, "192.0.2.1, 203.0.113.10", site_id=proxied.site_id) == 401
    assert _failed_login_origins(proxied) == {"203.0.113.10"}


def test_log_ins_are_limited_per_account_from_any_address(proxied: Stack) -> None:
    site_id = str(uuid.uuid4())
    statuses = [
        _attempt(proxied, f"198.51.100.{100 + i}", site_id=site_id, username="victim")
        for i in range(ACCOUNT_RATE + 1)
    ]
    assert statuses == [401] * ACCOUNT_RATE + [429]
    # Another account of that site, from the same addresses, is not held back.
    assert _attempt(proxied, "198.51.100.100", site_id=site_id, username="other") == 401


def test_log_ins_are_limited_per_site_from_any_address(proxied: Stack) -> None:
    site_id = str(uuid.uuid4())
    statuses = [
        _attempt(proxied, f"2001:db8:{i:x}::1", site_id=site_id) for i in range(SITE_RATE + 1)
    ]
    assert statuses == [401] * SITE_RATE + [429]
    assert _attempt(proxied, "2001:db8::ffff") == 401  # another site is not


def test_the_sign_in_page_counts_the_same_account(proxied: Stack) -> None:
    site_id = str(uuid.uuid4())
    assert _attempt(proxied, "198.51.100.200", site_id=site_id, username="victim2") == 401
    with httpx.Client(base_url=proxied.base_url, timeout=30) as c:
        form = c.get("/login", headers={"X-Forwarded-For": "198.51.100.201"})
        csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = c.post(
            "/login",
            headers={"X-Forwarded-For": "198.51.100.201"},
            data={"csrf": csrf, "site": site_id, "username": "victim2", "password": "x-1"},
        )
    assert r.status_code == 429
