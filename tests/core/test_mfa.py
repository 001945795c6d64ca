"""TOTP against the RFC 4226 and RFC 6238 test vectors, and enrolment, replay and recovery
codes against a real app DB and Redis."""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from support.otp import totp

from core import logins, mfa, users
from core.actors import Actor
from core.errors import Conflict, InvalidCredentials, Unauthenticated
from core.policies import update_policies
from core.runtime import Runtime
from core.sessions import resolve_session

RFC4226_KEY = b"12345678901234567890"
RFC4226_CODES = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]
# RFC 6238 appendix B: (time, SHA1, SHA256, SHA512), 8 digits.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}


def _b32(key: bytes) -> str:
    return base64.b32encode(key).decode().rstrip("=")


@pytest.mark.parametrize("counter", range(10))
def test_hotp_matches_rfc4226(counter: int) -> None:
    assert mfa.hotp(RFC4226_KEY, counter) == RFC4226_CODES[counter]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_totp_matches_rfc6238(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for digest, want in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert mfa.totp(_b32(SEEDS[digest]), at, digits=8, digest=digest) == want
    # The 6-digit code people type is the same number's last six digits.
    assert mfa.totp(_b32(SEEDS["sha1"]), at) == sha1[-6:]


def test_codes_agree_with_an_independent_implementation() -> None:
    for _ in range(20):
        secret = mfa.new_secret()
        at = time.time() + secrets.randbelow(10**8)
        assert totp(secret, at) == totp(secret, at)


def test_a_code_matches_its_step_and_one_either_side_only() -> None:
    secret = mfa.new_secret()
    now = 1_700_000_015.0
    step = int(now // 30)
    for offset in (-1, 0, 1):
        code = totp(secret, now + 30 * offset)
        assert mfa.matching_step(secret, code, now) == step + offset
    for offset in (-3, -2, 2, 3):
        assert mfa.matching_step(secret, totp(secret, now + 30 * offset), now) is None
    assert mfa.matching_step(secret, "12345", now) is None
    assert mfa.matching_step(secret, "abcdef", now) is None


def test_secrets_are_160_bits_of_base32_and_the_uri_names_them() -> None:
    secret = mfa.new_secret()
    assert len(mfa.decode_secret(secret)) == 20
    assert secret != mfa.new_secret()
    uri = urlsplit(mfa.otpauth_uri(secret, "ada lovelace"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/SecureForms%3Aada%20lovelace"
    query = parse_qs(uri.query)
    assert query["secret"] == [secret]
    assert query["digits"] == ["6"] and query["period"] == ["30"]
    assert query["algorithm"] == ["SHA1"] and query["issuer"] == ["SecureForms"]


def test_recovery_codes_are_distinct_and_unambiguous() -> None:
    codes = {mfa.new_recovery_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(re.fullmatch(r"[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}", c) for c in codes)


# -- against the stores ----------------------------------------------------------------------

PASSWORD = "correct-horse-9"


def _agent(rt: Runtime, admin: Actor, name: str = "ada") -> tuple[Actor, str]:
    users.create_user(rt, admin.site_id, name, PASSWORD, "agent")
    token = logins.log_in(rt, admin.site_id, name, PASSWORD)["token"]
    return resolve_session(rt, token), token


def _enrolled(rt: Runtime, admin: Actor) -> tuple[Actor, str, str, list[str]]:
    actor, token = _agent(rt, admin)
    secret = mfa.enroll(rt, actor, PASSWORD)["secret"]
    codes = mfa.confirm(rt, actor, totp(secret, time.time()))["recovery_codes"]
    return actor, token, secret, codes


def test_enrolment_needs_a_correct_first_code(rt: Runtime, new_site: Callable[..., Actor]) -> None:
    actor, token = _agent(rt, new_site(rt))
    with pytest.raises(Conflict):
        mfa.confirm(rt, actor, "123456")  # nothing to confirm yet
    secret = mfa.enroll(rt, actor, PASSWORD)["secret"]
    wrong = str((int(totp(secret, time.time())) + 1) % 10**6).zfill(6)
    with pytest.raises(mfa.InvalidTotp):
        mfa.confirm(rt, actor, wrong)
    # Until confirmed, log-in doesn't ask for a code.
    logins.log_in(rt, actor.site_id, "ada", PASSWORD)
    codes = mfa.confirm(rt, actor, totp(secret, time.time()))["recovery_codes"]
    assert len(codes) == mfa.RECOVERY_CODES
    # The live session learnt it at once.
    assert resolve_session(rt, token).mfa_enabled
    with pytest.raises(Conflict):
        mfa.enroll(rt, actor, PASSWORD)


def test_log_in_needs_the_code_and_a_code_works_once(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    actor, _, secret, _ = _enrolled(rt, new_site(rt))
    with pytest.raises(mfa.MfaRequired):
        logins.log_in(rt, actor.site_id, "ada", PASSWORD)
    # The confirmation spent the current step; the next one is within the window.
    code = totp(secret, time.time() + 30)
    assert logins.log_in(rt, actor.site_id, "ada", PASSWORD, code)["token"]
    with pytest.raises(InvalidCredentials):
        logins.log_in(rt, actor.site_id, "ada", PASSWORD, code)  # replayed


def test_a_recovery_code_works_once_in_any_spelling(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    actor, _, _, codes = _enrolled(rt, new_site(rt, failed_login_limit=10))
    shouted = " " + codes[0].upper() + " "
    assert logins.log_in(rt, actor.site_id, "ada", PASSWORD, shouted)["token"]
    with pytest.raises(InvalidCredentials):
        logins.log_in(rt, actor.site_id, "ada", PASSWORD, codes[0])
    assert logins.log_in(rt, actor.site_id, "ada", PASSWORD, codes[1].replace("-", ""))["token"]


def test_an_mfa_reset_forgets_secret_and_codes(rt: Runtime, new_site: Callable[..., Actor]) -> None:
    admin = new_site(rt)
    actor, token, _, codes = _enrolled(rt, admin)
    users.update_user(rt, admin, actor.user_id or "", {"mfa_reset": True})
    with pytest.raises(Unauthenticated):
        resolve_session(rt, token)  # the reset ended every session
    assert logins.log_in(rt, actor.site_id, "ada", PASSWORD)["token"]  # no code needed now
    fresh = resolve_session(rt, logins.log_in(rt, actor.site_id, "ada", PASSWORD)["token"])
    assert not fresh.mfa_enabled
    # The old recovery codes are gone with the old secret.
    secret = mfa.enroll(rt, fresh, PASSWORD)["secret"]
    mfa.confirm(rt, fresh, totp(secret, time.time()))
    with pytest.raises(InvalidCredentials):
        logins.log_in(rt, actor.site_id, "ada", PASSWORD, codes[2])


def test_a_role_that_must_use_mfa_reveals_nothing_until_enrolled(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    actor, token = _agent(rt, admin)
    mfa.require_enrolled(rt, actor)  # not required yet
    update_policies(rt, admin, {"mfa_required_roles": ["agent"]})
    with pytest.raises(mfa.MfaEnrollmentRequired) as refused:
        mfa.require_enrolled(rt, resolve_session(rt, token))
    assert (refused.value.status, refused.value.code) == (403, "mfa_enrollment_required")
    # Admins are not listed: nothing asked of them.
    mfa.require_enrolled(rt, admin)
    secret = mfa.enroll(rt, actor, PASSWORD)["secret"]
    mfa.confirm(rt, actor, totp(secret, time.time()))
    mfa.require_enrolled(rt, resolve_session(rt, token))  # the same session, now enrolled
