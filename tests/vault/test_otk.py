"""One-time keys against a real Redis: issue, peek, redeem, refusal, expiry, races."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from redis import Redis

from vault.errors import VaultError
from vault.otk import ACTIONS, OneTimeKeys, OtkClaims

TTLS = {"open": 3600, "submit": 900, "retrieve": 300}
SITE = "site-a"
SUBJECT = "request-1"


@pytest.fixture
def otks(redis_client: Redis) -> OneTimeKeys:
    return OneTimeKeys(redis_client, TTLS)


def _all_keys_and_values(client: Redis) -> list[tuple[bytes, bytes]]:
    found = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        assert kind == b"string", f"unexpected Redis type {kind!r}"
        value = client.get(key)
        assert value is not None
        found.append((key, value))
    return found


def test_issue_peek_redeem(otks: OneTimeKeys) -> None:
    before = datetime.now(UTC)
    issued = otks.issue("submit", SITE, SUBJECT, data={"form": "payment", "n": 3})
    after = datetime.now(UTC)
    ttl = timedelta(seconds=TTLS["submit"])
    assert before + ttl - timedelta(milliseconds=1) <= issued.expires_at <= after + ttl

    peeked = otks.peek(issued.token, "submit", site_id=SITE, subject=SUBJECT)
    assert otks.peek(issued.token, "submit", site_id=SITE, subject=SUBJECT) == peeked
    redeemed = otks.redeem(issued.token, "submit", site_id=SITE, subject=SUBJECT)
    assert redeemed == peeked
    assert redeemed == OtkClaims(
        action="submit",
        site_id=SITE,
        subject=SUBJECT,
        expires_at=redeemed.expires_at,
        data={"form": "payment", "n": 3},
    )
    assert abs((redeemed.expires_at - issued.expires_at).total_seconds()) < 0.001


def test_expires_at_follows_the_action_ttl(redis_client: Redis) -> None:
    now = 1_700_000_000.0
    otks = OneTimeKeys(redis_client, TTLS, clock=lambda: now)
    for action in ACTIONS:
        issued = otks.issue(action, SITE, SUBJECT)
        assert issued.expires_at == datetime.fromtimestamp(now + TTLS[action], UTC)
        key = "sf:otk:" + hashlib.sha256(issued.token.encode()).hexdigest()
        assert TTLS[action] * 1000 - 2000 < redis_client.pttl(key) <= TTLS[action] * 1000
    custom = otks.issue("open", SITE, SUBJECT, ttl_s=42)
    assert custom.expires_at == datetime.fromtimestamp(now + 42, UTC)


def test_a_spent_key_fails(otks: OneTimeKeys) -> None:
    issued = otks.issue("open", SITE, SUBJECT)
    otks.redeem(issued.token, "open", site_id=SITE)
    with pytest.raises(VaultError):
        otks.redeem(issued.token, "open", site_id=SITE)
    with pytest.raises(VaultError):
        otks.peek(issued.token, "open", site_id=SITE)


@pytest.mark.parametrize(
    ("action", "site_id", "subject"),
    [
        ("open", SITE, SUBJECT),
        ("retrieve", SITE, SUBJECT),
        ("nonsense", SITE, SUBJECT),
        ("submit", "site-b", SUBJECT),
        ("submit", SITE.upper(), SUBJECT),
        ("submit", SITE, "request-2"),
        ("submit", "site-b", "request-2"),
    ],
    ids=[
        "other action",
        "another other action",
        "unknown action",
        "other site",
        "site case",
        "other subject",
        "other site and subject",
    ],
)
def test_a_mismatch_fails_without_spending(
    otks: OneTimeKeys, action: str, site_id: str, subject: str
) -> None:
    issued = otks.issue("submit", SITE, SUBJECT)
    for _ in range(3):
        with pytest.raises(VaultError):
            otks.redeem(issued.token, action, site_id=site_id, subject=subject)
        with pytest.raises(VaultError):
            otks.peek(issued.token, action, site_id=site_id, subject=subject)
    claims = otks.redeem(issued.token, "submit", site_id=SITE, subject=SUBJECT)
    assert claims.site_id == SITE


@pytest.mark.parametrize(
    "token",
    [None, 123, b"bytes-are-not-a-token-at-all-000000000", "", "short", "x" * 19, "x" * 129],
    ids=["none", "int", "bytes", "empty", "short", "19 chars", "129 chars"],
)
def test_malformed_tokens_fail(otks: OneTimeKeys, token: object) -> None:
    with pytest.raises(VaultError):
        otks.redeem(token, "open")
    with pytest.raises(VaultError):
        otks.peek(token, "open")


def test_a_similar_token_fails(otks: OneTimeKeys) -> None:
    issued = otks.issue("open", SITE, SUBJECT)
    token = issued.token
    for wrong in (token[:-1], token + "A", token.swapcase(), token[1:] + token[0]):
        with pytest.raises(VaultError):
            otks.redeem(wrong, "open")
    otks.redeem(token, "open", site_id=SITE)


@pytest.mark.parametrize(
    ("action", "site_id", "subject"),
    [("nonsense", SITE, SUBJECT), ("open", "", SUBJECT), ("open", SITE, "")],
)
def test_issue_refuses_incomplete_claims(
    otks: OneTimeKeys, redis_client: Redis, action: str, site_id: str, subject: str
) -> None:
    with pytest.raises(ValueError):
        otks.issue(action, site_id, subject)
    assert redis_client.dbsize() == 0


def test_expiry(otks: OneTimeKeys) -> None:
    short = otks.issue("open", SITE, SUBJECT, ttl_s=0.2)
    long = otks.issue("open", SITE, SUBJECT, ttl_s=30)
    otks.peek(short.token, "open", site_id=SITE)
    time.sleep(0.4)
    with pytest.raises(VaultError):
        otks.peek(short.token, "open", site_id=SITE)
    with pytest.raises(VaultError):
        otks.redeem(short.token, "open", site_id=SITE)
    otks.redeem(long.token, "open", site_id=SITE)


def test_only_a_sha256_hash_is_stored(otks: OneTimeKeys, redis_client: Redis) -> None:
    issued = [otks.issue(a, SITE, SUBJECT, data={"form": "payment"}) for a in ACTIONS]
    stored = _all_keys_and_values(redis_client)
    assert len(stored) == len(issued)
    expected_keys = {f"sf:otk:{hashlib.sha256(i.token.encode()).hexdigest()}" for i in issued}
    assert {k.decode() for k, _ in stored} == expected_keys
    for otk in issued:
        raw = base64.urlsafe_b64decode(otk.token + "=" * (-len(otk.token) % 4))
        for key, value in stored:
            for needle in (otk.token.encode(), raw, raw.hex().encode(), otk.token[:16].encode()):
                assert needle not in key
                assert needle not in value


def test_tokens_are_256_bit_urlsafe_and_unique(otks: OneTimeKeys) -> None:
    tokens = [otks.issue("open", SITE, SUBJECT, ttl_s=5).token for _ in range(200)]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert len(token) >= 43
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) == 32


def test_issued_repr_hides_the_token(otks: OneTimeKeys) -> None:
    issued = otks.issue("open", SITE, SUBJECT)
    assert issued.token not in repr(issued)
    assert issued.token not in str(issued)


def test_restore_puts_a_spent_key_back_for_its_remaining_life(redis_client: Redis) -> None:
    now = [1_700_000_000.0]
    otks = OneTimeKeys(redis_client, TTLS, clock=lambda: now[0])
    issued = otks.issue("submit", SITE, SUBJECT, data={"form": "payment"}, ttl_s=10)
    now[0] += 4  # four seconds later the queue refuses the submission
    claims = otks.redeem(issued.token, "submit", site_id=SITE, subject=SUBJECT)
    with pytest.raises(VaultError):
        otks.peek(issued.token, "submit", site_id=SITE)

    otks.restore(issued.token, claims)
    key = "sf:otk:" + hashlib.sha256(issued.token.encode()).hexdigest()
    assert 5000 < redis_client.pttl(key) <= 6000
    again = otks.redeem(issued.token, "submit", site_id=SITE, subject=SUBJECT)
    assert again == claims
    assert again.expires_at == issued.expires_at


def test_restore_of_an_expired_key_does_nothing(redis_client: Redis) -> None:
    now = [1_700_000_000.0]
    otks = OneTimeKeys(redis_client, TTLS, clock=lambda: now[0])
    issued = otks.issue("submit", SITE, SUBJECT, ttl_s=10)
    claims = otks.redeem(issued.token, "submit", site_id=SITE, subject=SUBJECT)
    now[0] += 10
    otks.restore(issued.token, claims)
    assert redis_client.dbsize() == 0
    with pytest.raises(VaultError):
        otks.redeem(issued.token, "submit", site_id=SITE)


def test_restore_does_not_overwrite_a_live_key(otks: OneTimeKeys) -> None:
    issued = otks.issue("submit", SITE, SUBJECT, data={"form": "payment"})
    claims = otks.peek(issued.token, "submit", site_id=SITE)
    forged = OtkClaims("retrieve", "site-b", "someone-else", claims.expires_at, {"x": 1})
    otks.restore(issued.token, forged)
    assert otks.redeem(issued.token, "submit", site_id=SITE, subject=SUBJECT) == claims


def _race(redis_url: str, token: str, attempts: list[tuple[str, str]]) -> list[str]:
    """Each thread its own client; all start together; returns 'won'/'lost' per thread."""
    barrier = threading.Barrier(len(attempts), timeout=30)
    results: list[str] = ["not run"] * len(attempts)

    def attempt(index: int, site_id: str, subject: str) -> None:
        client = Redis.from_url(redis_url)
        try:
            otks = OneTimeKeys(client, TTLS)
            client.ping()  # connect before the barrier so the redeems really overlap
            barrier.wait()
            try:
                otks.redeem(token, "submit", site_id=site_id, subject=subject)
                results[index] = "won"
            except VaultError:
                results[index] = "lost"
        except Exception as exc:  # surfaced through `results`
            results[index] = f"error: {exc!r}"
        finally:
            client.close()

    threads = [
        threading.Thread(target=attempt, args=(i, site, subject))
        for i, (site, subject) in enumerate(attempts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_exactly_one_of_twenty_racing_redeemers_wins(otks: OneTimeKeys, redis_url: str) -> None:
    for _ in range(20):
        token = otks.issue("submit", SITE, SUBJECT).token
        results = _race(redis_url, token, [(SITE, SUBJECT)] * 20)
        assert sorted(results) == ["lost"] * 19 + ["won"], results
        with pytest.raises(VaultError):
            otks.peek(token, "submit", site_id=SITE)


def test_racing_strangers_cannot_burn_the_key(otks: OneTimeKeys, redis_url: str) -> None:
    for _ in range(5):
        token = otks.issue("submit", SITE, SUBJECT).token
        attempts = [("site-b", SUBJECT)] * 10 + [(SITE, "other")] * 9 + [(SITE, SUBJECT)]
        results = _race(redis_url, token, attempts)
        assert results[-1] == "won", results
        assert results[:-1] == ["lost"] * 19, results


def test_a_shorter_key_still_has_128_bits_and_never_fewer(otks: OneTimeKeys) -> None:
    short = otks.issue("open", SITE, SUBJECT, ttl_s=5, nbytes=16)
    assert len(short.token) == 22
    assert len(base64.urlsafe_b64decode(short.token + "==")) == 16
    assert otks.redeem(short.token, "open", site_id=SITE).subject == SUBJECT
    with pytest.raises(ValueError):
        otks.issue("open", SITE, SUBJECT, ttl_s=5, nbytes=15)


def test_revoke_group_spends_its_live_keys_and_counts_them(
    otks: OneTimeKeys, redis_client: Redis
) -> None:
    first = otks.issue("submit", SITE, SUBJECT, groups=("g",))
    second = otks.issue("open", SITE, SUBJECT, groups=("g", "other"))
    outside = otks.issue("open", SITE, SUBJECT, groups=("other",))
    otks.redeem(first.token, "submit")  # spent already: not counted as live

    assert otks.revoke_group("g") == 1
    with pytest.raises(VaultError):
        otks.peek(second.token, "open")
    assert otks.peek(outside.token, "open").action == "open"
    assert not redis_client.exists("sf:otk-group:g")
    assert otks.revoke_group("g") == 0  # gone, and nothing left to spend


def test_a_group_lives_as_long_as_its_longest_lived_key(
    otks: OneTimeKeys, redis_client: Redis
) -> None:
    otks.issue("retrieve", SITE, SUBJECT, groups=("g",), ttl_s=300)
    otks.issue("open", SITE, SUBJECT, groups=("g",), ttl_s=900)
    otks.issue("retrieve", SITE, SUBJECT, groups=("g",), ttl_s=60)  # shorter: no change
    assert 899_000 < redis_client.pttl("sf:otk-group:g") <= 900_000

    otks.issue("retrieve", SITE, SUBJECT, groups=("short",), ttl_s=60)
    assert 59_000 < redis_client.pttl("sf:otk-group:short") <= 60_000
