"""TOTP secrets sealed at rest, against a real app DB and keyring: what is stored says
nothing of the secret, a sealed value opens only in its own row and column, a wrong key or a
tampered value fails closed (without the value in any log line), plaintext from before
a0003 still works and gets sealed, a key rotation re-seals so the old key can retire, and
migration a0003 seals what an older version left (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from support.databases import app_migrations
from support.otp import totp

from configs import load_settings
from configs.database import make_engine
from core import keys, logins, mfa, users
from core.actors import Actor
from core.errors import Conflict, InvalidCredentials
from core.passwords import hash_password
from core.runtime import Runtime, migrate
from core.schema import users as users_table
from core.sessions import resolve_session
from vault import Keyring, VaultError, load_keyring

PASSWORD = "correct-horse-9"


def spellings(secret: str) -> list[str]:
    """Every way the secret could sit in a column: as given, any case, its bytes re-encoded."""
    raw = mfa.decode_secret(secret)
    return [
        secret,
        secret.lower(),
        raw.hex(),
        base64.b64encode(raw).decode(),
        base64.b32encode(raw).decode(),
        base64.b64encode(secret.encode()).decode(),
    ]


def assert_nothing_of(secret: str, stored: str) -> None:
    assert stored.startswith(mfa.SEALED_PREFIX)
    for spelling in spellings(secret):
        assert spelling.lower() not in stored.lower()


def _row(rt: Runtime, user_id: str) -> Any:
    with rt.app_engine.connect() as conn:
        return conn.execute(select(users_table).where(users_table.c.id == user_id)).one()


def _set(rt: Runtime, user_id: str, **values: Any) -> None:
    with rt.app_engine.begin() as conn:
        conn.execute(update(users_table).where(users_table.c.id == user_id).values(**values))


def _agent(rt: Runtime, admin: Actor, name: str | None = None) -> tuple[Actor, str]:
    name = name or f"agent-{uuid.uuid4().hex[:6]}"
    users.create_user(rt, admin.site_id, name, PASSWORD, "agent")
    return resolve_session(rt, logins.log_in(rt, admin.site_id, name, PASSWORD)["token"]), name


def _enrolled(rt: Runtime, admin: Actor) -> tuple[Actor, str, str, list[str]]:
    """An agent with MFA on: (actor, username, secret, recovery codes). The current step and
    the one before are spent by nobody; the confirmation used the one before."""
    actor, name = _agent(rt, admin)
    secret = mfa.enroll(rt, actor, PASSWORD)["secret"]
    codes = mfa.confirm(rt, actor, totp(secret, time.time() - 30))["recovery_codes"]
    return actor, name, secret, codes


def _log_in(rt: Runtime, actor: Actor, name: str, code: str) -> dict[str, Any]:
    return logins.log_in(rt, actor.site_id, name, PASSWORD, code)


# -- the stored form --------------------------------------------------------------------------


def test_the_stored_value_is_neither_the_secret_nor_any_spelling_of_it(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    actor, name = _agent(rt, new_site(rt))
    secret = mfa.enroll(rt, actor, PASSWORD)["secret"]
    pending = _row(rt, actor.user_id or "").mfa_pending_secret
    assert_nothing_of(secret, pending)
    assert mfa.sealed_key_id(pending) == rt.keyring.primary("data").id
    # Two seals of one secret differ (fresh nonce): equal secrets can't be spotted either.
    again = mfa.seal_secret(rt.keyring, actor.site_id, actor.user_id or "", "x", secret)
    assert again != mfa.seal_secret(rt.keyring, actor.site_id, actor.user_id or "", "x", secret)

    mfa.confirm(rt, actor, totp(secret, time.time()))
    row = _row(rt, actor.user_id or "")
    assert row.mfa_pending_secret is None
    assert_nothing_of(secret, row.mfa_secret)
    assert mfa.open_secret(rt.keyring, actor.site_id, row.id, "mfa_secret", row.mfa_secret) == (
        secret
    )
    assert _log_in(rt, actor, name, totp(secret, time.time() + 30))["token"]


def test_a_sealed_secret_opens_only_in_its_own_row_and_column(
    rt: Runtime, new_site: Callable[..., Actor], caplog: pytest.LogCaptureFixture
) -> None:
    admin = new_site(rt, failed_login_limit=10)
    ada, ada_name, ada_secret, _ = _enrolled(rt, admin)
    bob, bob_name, bob_secret, _ = _enrolled(rt, admin)
    ada_sealed = _row(rt, ada.user_id or "").mfa_secret
    for site_id, user_id, column in (
        (ada.site_id, bob.user_id, "mfa_secret"),  # another user
        (ada.site_id, ada.user_id, "mfa_pending_secret"),  # another column
        (new_site(rt).site_id, ada.user_id, "mfa_secret"),  # another site
    ):
        with pytest.raises(VaultError) as failed:
            mfa.open_secret(rt.keyring, site_id, user_id or "", column, ada_sealed)
        assert str(failed.value) == "invalid or expired"  # the one message for all

    # Ada's sealed secret copied onto Bob's row: neither her codes nor his open his door.
    _set(rt, bob.user_id or "", mfa_secret=ada_sealed)
    with caplog.at_level(logging.ERROR, logger="core.mfa"):
        for code in (totp(ada_secret, time.time()), totp(bob_secret, time.time())):
            with pytest.raises(InvalidCredentials) as refused:
                _log_in(rt, bob, bob_name, code)
            assert ada_secret not in str(refused.value) and bob_secret not in str(refused.value)
    assert f"user {bob.user_id} does not open" in caplog.text
    for secret in (ada_secret, bob_secret):
        assert all(s not in caplog.text for s in spellings(secret))
    # Ada's own row still works.
    assert _log_in(rt, ada, ada_name, totp(ada_secret, time.time()))["token"]


def test_a_tampered_or_foreign_key_secret_fails_closed_and_recovery_codes_still_work(
    rt: Runtime, new_site: Callable[..., Actor], caplog: pytest.LogCaptureFixture
) -> None:
    admin = new_site(rt, failed_login_limit=10)
    actor, name, secret, codes = _enrolled(rt, admin)
    sealed = _row(rt, actor.user_id or "").mfa_secret
    envelope = bytearray(base64.b64decode(sealed[len(mfa.SEALED_PREFIX) :]))
    envelope[-1] ^= 1
    tampered = mfa.SEALED_PREFIX + base64.b64encode(bytes(envelope)).decode()
    foreign = mfa.seal_secret(
        Keyring.generate(), actor.site_id, actor.user_id or "", "mfa_secret", secret
    )
    broken = [tampered, foreign, mfa.SEALED_PREFIX + "not base64!", mfa.SEALED_PREFIX, "?" * 32]
    with caplog.at_level(logging.ERROR, logger="core.mfa"):
        for stored in broken:
            _set(rt, actor.user_id or "", mfa_secret=stored)
            with pytest.raises(InvalidCredentials):
                _log_in(rt, actor, name, totp(secret, time.time()))
    assert caplog.text.count("does not open; no code matches") == len(broken)
    assert all(s not in caplog.text for s in spellings(secret))
    # The authenticator is lost to this account, the recovery codes are not.
    assert _log_in(rt, actor, name, codes[0])["token"]


def test_an_unreadable_pending_secret_asks_for_a_new_enrolment(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    actor, _ = _agent(rt, new_site(rt))
    first = mfa.enroll(rt, actor, PASSWORD)["secret"]
    foreign = mfa.seal_secret(
        Keyring.generate(), actor.site_id, actor.user_id or "", "mfa_pending_secret", first
    )
    _set(rt, actor.user_id or "", mfa_pending_secret=foreign)
    with pytest.raises(Conflict):
        mfa.confirm(rt, actor, totp(first, time.time()))
    second = mfa.enroll(rt, actor, PASSWORD)["secret"]
    assert mfa.confirm(rt, actor, totp(second, time.time()))["recovery_codes"]


# -- plaintext from before a0003 ---------------------------------------------------------------


def test_a_plaintext_secret_still_works_and_is_sealed_when_used(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    actor, name = _agent(rt, new_site(rt))
    secret = mfa.new_secret()
    _set(rt, actor.user_id or "", mfa_enabled=True, mfa_secret=secret)
    with pytest.raises(mfa.MfaRequired):
        logins.log_in(rt, actor.site_id, name, PASSWORD)
    assert _log_in(rt, actor, name, totp(secret, time.time()))["token"]
    assert_nothing_of(secret, _row(rt, actor.user_id or "").mfa_secret)
    assert _log_in(rt, actor, name, totp(secret, time.time() + 30))["token"]

    # A pending one left mid-enrolment: the confirmation takes it and seals what it keeps.
    other, _ = _agent(rt, new_site(rt))
    pending = mfa.new_secret()
    _set(rt, other.user_id or "", mfa_pending_secret=pending)
    mfa.confirm(rt, other, totp(pending, time.time()))
    assert_nothing_of(pending, _row(rt, other.user_id or "").mfa_secret)


# -- key rotation ------------------------------------------------------------------------------


def _state(rt: Runtime, key_id: str) -> str:
    return next(k.state for k in rt.keyring.keys("data") if k.id == key_id)


def test_rotation_reseals_secrets_so_the_old_key_retires_and_codes_still_work(
    own_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    rt = own_rt
    admin = new_site(rt)
    actor, name, secret, _ = _enrolled(rt, admin)
    waiting, _ = _agent(rt, admin)  # enrolled but not confirmed: a pending secret
    pending = mfa.enroll(rt, waiting, PASSWORD)["secret"]
    old = rt.keyring.primary("data").id
    assert mfa.sealed_key_id(_row(rt, actor.user_id or "").mfa_secret) == old

    keys.rotate(rt, ("data",))
    new = rt.keyring.primary("data").id
    listed = {k["id"]: k for k in keys.describe(rt)["keyring"]}
    assert listed[old]["state"] == "active"
    assert listed[old]["protects"].endswith(", 2 TOTP secrets")
    assert listed[new]["protects"].endswith(", 0 TOTP secrets")
    # Until re-sealed, the secret still opens under the old (active) key.
    assert _log_in(rt, actor, name, totp(secret, time.time()))["token"]

    report = keys.rewrap_and_retire(rt)
    assert report["resealed_totp_secrets"] == 2
    assert old in report["retired"] and _state(rt, old) == "retired"
    row = _row(rt, actor.user_id or "")
    assert mfa.sealed_key_id(row.mfa_secret) == new
    assert_nothing_of(secret, row.mfa_secret)
    listed = {k["id"]: k for k in keys.describe(rt)["keyring"]}
    assert listed[old]["protects"] == "nothing"
    assert listed[new]["protects"].endswith(", 2 TOTP secrets")
    assert _log_in(rt, actor, name, totp(secret, time.time() + 30))["token"]
    assert mfa.confirm(rt, waiting, totp(pending, time.time()))["recovery_codes"]
    assert keys.rewrap_and_retire(rt)["resealed_totp_secrets"] == 0


def test_a_secret_that_wont_reseal_keeps_its_key_from_retiring(
    own_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    rt = own_rt
    actor, _, _, _ = _enrolled(rt, new_site(rt))
    old = rt.keyring.primary("data").id
    # Sealed under the old key but for another user: it names that key and won't open.
    other_admin = new_site(rt)
    other, _ = _agent(rt, other_admin)
    copied = _row(rt, actor.user_id or "").mfa_secret
    _set(rt, other.user_id or "", mfa_enabled=True, mfa_secret=copied)
    keys.rotate(rt, ("data",))
    report = keys.rewrap_and_retire(rt)
    assert report["resealed_totp_secrets"] == 1  # the owner's
    assert old not in report["retired"] and _state(rt, old) == "active"
    assert mfa.sealed_key_id(_row(rt, other.user_id or "").mfa_secret) == old
    assert mfa.sealed_key_id(_row(rt, actor.user_id or "").mfa_secret) != old
    # Once that row is dealt with (an admin's MFA reset), the key goes at the next re-wrap.
    users.update_user(rt, other_admin, other.user_id or "", {"mfa_reset": True})
    assert old in keys.rewrap_and_retire(rt)["retired"]


# -- migration a0003 ---------------------------------------------------------------------------


def _older_rows(engine: Engine) -> dict[str, tuple[str, str, str]]:
    """Users as a0002's code left them: user id -> (site id, mfa_secret, pending)."""
    site = str(uuid.uuid4())
    rows = {str(uuid.uuid4()): (site, mfa.new_secret(), mfa.new_secret()) for _ in range(3)}
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sites (id, name, policies, created_at) VALUES (:i, 'old', '{}', :t)"),
            {"i": site, "t": datetime.now(UTC)},
        )
        for n, (user_id, (_, secret, pending)) in enumerate(rows.items()):
            conn.execute(
                text(
                    "INSERT INTO users (id, site_id, username, password_hash, role, enabled, "
                    "failed_logins, created_at, mfa_enabled, mfa_secret, mfa_pending_secret) "
                    "VALUES (:i, :s, :u, :h, 'agent', true, 0, :t, true, :m, :p)"
                ),
                {
                    "i": user_id,
                    "s": site,
                    "u": f"user{n}",
                    "h": hash_password("old-password-1"),
                    "t": datetime.now(UTC),
                    "m": secret,
                    "p": pending,
                },
            )
    return rows


def _stored(engine: Engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as conn:
        return {
            r.id: (r.mfa_secret, r.mfa_pending_secret)
            for r in conn.execute(text("SELECT id, mfa_secret, mfa_pending_secret FROM users"))
        }


def test_a0003_seals_what_an_older_version_left_and_goes_back_down(blank_app_db: str) -> None:
    keyring = Keyring.generate()
    command.upgrade(app_migrations(blank_app_db), "a0002")
    engine = make_engine(blank_app_db)
    try:
        older = _older_rows(engine)
        command.upgrade(app_migrations(blank_app_db, keyring), "a0003")
        stored = _stored(engine)
        for user_id, (site_id, secret, pending) in older.items():
            for column, value, want in (
                ("mfa_secret", stored[user_id][0], secret),
                ("mfa_pending_secret", stored[user_id][1], pending),
            ):
                assert_nothing_of(want, value)
                assert mfa.open_secret(keyring, site_id, user_id, column, value) == want
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                widths = conn.execute(
                    text(
                        "SELECT character_maximum_length FROM information_schema.columns "
                        "WHERE table_name = 'users' AND column_name LIKE 'mfa_%secret'"
                    )
                ).scalars()
                assert set(widths) == {255}

        # Down again without the keyring: refused, nothing changed.
        with pytest.raises(RuntimeError, match="no keyring"):
            command.downgrade(app_migrations(blank_app_db), "a0002")
        assert _stored(engine) == stored
        command.downgrade(app_migrations(blank_app_db, keyring), "a0002")
        assert _stored(engine) == {u: (s, p) for u, (_, s, p) in older.items()}
    finally:
        engine.dispose()


def test_a0003_without_a_keyring_leaves_plaintext_that_still_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path}/app.sqlite3"
    command.upgrade(app_migrations(url), "a0002")
    engine = make_engine(url)
    try:
        older = _older_rows(engine)
        with caplog.at_level(logging.WARNING, logger="core.migrations"):
            command.upgrade(app_migrations(url), "a0003")  # this process's settings name another DB
        assert "6 plaintext TOTP secrets left unsealed" in caplog.text
        assert _stored(engine) == {u: (s, p) for u, (_, s, p) in older.items()}
        for user_id, (site_id, secret, _) in older.items():
            # core.mfa reads them as they are (and seals them where it meets them).
            assert mfa.open_secret(Keyring.generate(), site_id, user_id, "mfa_secret", secret) == (
                secret
            )
    finally:
        engine.dispose()


def test_migrate_seals_with_the_keyring_its_settings_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `secureforms migrate` does: the settings of the process name the DB and the keys."""
    environ = {
        "SECUREFORMS_ENV": "test",
        "SECUREFORMS_DATA_DIR": str(tmp_path),
        "SECUREFORMS_APP_DATABASE_URL": f"sqlite:///{tmp_path}/app.sqlite3",
        "SECUREFORMS_VAULT_DATABASE_URL": f"sqlite:///{tmp_path}/vault.sqlite3",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    command.upgrade(app_migrations(settings.app_database_url), "a0002")
    engine = make_engine(settings.app_database_url)
    try:
        older = _older_rows(engine)
        migrate(settings)
        keyring = load_keyring(settings.keyring_path, allow_generate=True)
        stored = _stored(engine)
        for user_id, (site_id, secret, _) in older.items():
            assert_nothing_of(secret, stored[user_id][0])
            opened = mfa.open_secret(keyring, site_id, user_id, "mfa_secret", stored[user_id][0])
            assert opened == secret
    finally:
        engine.dispose()
