"""What a hostile review of issue 11's fixes found still open, each shown against a real
running stack (uvicorn and Redis; the chat through its HTTP API).

- Usernames with invisible characters (`ad\u200bmin`) pass the look-alike check.
- The per-account log-in limit counts the username as typed, so `" victim"` or a
  full-width `ｖｉｃｔｉｍ` (the same account once normalised) gets a fresh bucket.
- IPv6 clients get a bucket per /128: one host with a /64 has as many buckets as it
  likes, and with them empties the per-site bucket that every user of the site shares.
- A card number glued to a word (`4111…1111exp 12/25`) or written over several lines
  reaches the messages table and Redis in the clear.
- After the site's last admin's 30-minute lock ends, guesses at that name answer 401
  again, while a name nobody has keeps answering 423 for 30 days: a stranger learns which
  names exist (and which one is the admin).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from integration.test_chat import bearer, visitor_token
from integration.test_chat_masking import new_card
from support.flow import Desk
from support.stack import Stack

RATE = 3  # log-ins a minute per address on the proxied stack: 1 per account, 30 per site


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("review-plain")
    with Stack.running("sqlite", "redis", data_dir, worker=False) as s:
        yield s


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("review-proxied")
    with Stack.running(
        "sqlite",
        "redis",
        data_dir,
        worker=False,
        SECUREFORMS_LOGIN_RATE_PER_MINUTE=str(RATE),
        SECUREFORMS_FORWARDED_ALLOW_IPS="127.0.0.1",
    ) as s:
        yield s


def _log_in(stack: Stack, site_id: str, username: str, password: str, forwarded: str = "") -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with stack.client() as c:
        r = c.post(
            "/api/v1/auth/login",
            headers=headers,
            json={"site_id": site_id, "username": username, "password": password},
        )
    return r.status_code


# -- usernames --------------------------------------------------------------------------------

INVISIBLE = {
    "zero-width space": "ad\u200bmin",
    "zero-width joiner": "admin\u200d",
    "right-to-left mark": "\u200fadmin",
    "soft hyphen": "ad\u00admin",
    "word joiner": "ad\u2060min",
    "combining grapheme joiner": "admin\u034f",
    "variation selector": "admin\ufe0f",
    "hangul filler": "admin\u3164",
}


@pytest.mark.parametrize("how", list(INVISIBLE))
def test_a_username_with_invisible_characters_is_a_look_alike(plain: Stack, how: str) -> None:
    admin = plain.admin_headers()
    with plain.client() as c:
        r = c.post(
            "/api/v1/users",
            headers=admin,
            json={"username": INVISIBLE[how], "password": "pw-1-look-alike", "role": "agent"},
        )
    assert r.status_code == 409, r.text


# -- rate limits ------------------------------------------------------------------------------


def test_the_per_account_limit_counts_the_normalised_username(proxied: Stack) -> None:
    site_id = str(uuid.uuid4())
    written = ["victim", " victim", "victim ", "\uff56\uff49\uff43\uff54\uff49\uff4d"]
    statuses = [
        _log_in(proxied, site_id, name, "wrong-1", f"198.51.100.{10 + i}")
        for i, name in enumerate(written)
    ]
    assert statuses == [401] + [429] * (len(written) - 1)


def test_ipv6_addresses_of_one_64_share_a_bucket(proxied: Stack) -> None:
    site_id = str(uuid.uuid4())
    statuses = [
        _log_in(proxied, site_id, f"u{i}", "wrong-1", f"2001:db8:1:2::{i + 1:x}")
        for i in range(RATE + 1)
    ]
    assert statuses == [401] * RATE + [429]


# -- the chat ---------------------------------------------------------------------------------

GLUED = {
    "expiry glued after": lambda c: f"{c}exp 12/34",
    "word glued before": lambda c: f"card{c}",
    "cvv glued after": lambda c: f"{c}cvv123",
    "one group a line": lambda c: "\n".join(c[i : i + 4] for i in range(0, 16, 4)),
    "four spaces": lambda c: "    ".join(c[i : i + 4] for i in range(0, 16, 4)),
}


@pytest.mark.parametrize("how", list(GLUED))
def test_a_card_glued_to_words_or_over_lines_is_masked(plain: Stack, how: str) -> None:
    desk = Desk.make(plain)
    token = visitor_token(desk, desk.conversation())
    card = new_card()
    with desk.client() as c:
        r = c.post(
            "/api/v1/chat/messages",
            json={"text": f"here: {GLUED[how](card)}"},
            headers=bearer(token),
        )
    assert r.status_code == 201, r.text
    assert card[:12] not in "".join(ch for ch in r.json()["text"] if ch.isdigit())


# -- account enumeration --------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="open review finding: ordinary accounts stay disabled while a last admin's lock "
    "ends, so an unknown name cannot answer like both; no small fix",
)
def test_a_name_nobody_has_answers_like_the_last_admin_after_the_lock(plain: Stack) -> None:
    site = plain.create_site("boss", "boss-password-1", name="lonely")
    site_id = site["site_id"]
    answers = {
        name: [_log_in(plain, site_id, name, f"wrong-{i}") for i in range(4)]
        for name in ("boss", "ghost")
    }
    # While the lock holds the two names answer alike...
    assert answers["boss"] == answers["ghost"] == [401, 401, 423, 423]
    # ...and then the lock ends, as it does after 30 minutes.
    for r in plain.redis_clients():
        r.delete(f"sf:login-lock:{site['admin_id']}")
    after = {name: _log_in(plain, site_id, name, "wrong-again-1") for name in ("boss", "ghost")}
    assert after["boss"] == after["ghost"], after


# -- lock-out races ---------------------------------------------------------------------------

GUESSES = 12


def test_racing_guesses_are_not_checked_past_the_limit(plain: Stack) -> None:
    """Guesses sent at once each read the account as enabled, are each checked against
    the password, and only then counted: a batch of twelve gets twelve guesses, not the
    limit's three. The right one among them is audited `auth.login` success on an account
    already disabled (its session then ends in `_recheck`, and it answers 423); had it
    been checked before the third failure was counted, it would have signed in."""
    admin = plain.admin_headers()
    user_id, username, password = plain.new_user(admin, "agent")
    guesses = [f"wrong-guess-{i}" for i in range(GUESSES - 1)] + [password]

    def guess(tried: str) -> int:
        return _log_in(plain, plain.site_id, username, tried)

    with ThreadPoolExecutor(GUESSES) as pool:
        statuses = list(pool.map(guess, guesses))
    assert 500 not in statuses, statuses
    engine = plain.engines()["app"]
    with engine.connect() as conn:
        logins = conn.exec_driver_sql(
            "SELECT outcome, resource FROM audit_events WHERE type = 'auth.login'"
            " AND user_id = ? ORDER BY rowid",
            (user_id,),
        ).all()
    engine.dispose()
    batch = logins[1:]  # the first is new_user's own sign-in, before its password change
    checked = [r for r in batch if r.outcome == "success" or r.resource.endswith("wrong_password")]
    assert len(checked) <= 3, (statuses, [tuple(r) for r in batch])


@pytest.mark.xfail(
    strict=True,
    reason="open review finding: the per-site sign-in bucket the issue asks for is shared by "
    "everyone, so a flood can hold a site's users back (a team decision)",
)
def test_a_flood_from_ten_addresses_does_not_keep_the_site_out(proxied: Stack) -> None:
    """The per-site bucket (ten addresses' worth) is shared by everyone signing in to the
    site: ten addresses guessing at names nobody has fill it, and then the site's own
    admin, from an address of their own and with the right password, gets 429. (IPv6 /64
    buckets only make the ten addresses cost more; the lever is the shared bucket.)"""
    site = proxied.create_site("floodadmin", "flood-password-1", name="flooded")
    for a in range(10):
        for i in range(RATE):
            _log_in(proxied, site["site_id"], f"n{a}-{i}", "wrong-1", f"203.0.113.{a + 1}")
    own = _log_in(proxied, site["site_id"], "floodadmin", "flood-password-1", "198.51.100.250")
    assert own == 200
