"""TOTP secrets at rest, against the real api and CLI on SQLite and PostgreSQL: after an
enrolment over HTTP the secret is nowhere in the databases (nor in the logs), log-in with a
code works, and goes on working after `secureforms keys rotate` re-seals the secret and
retires the key it was under; and `secureforms migrate` seals the plaintext secret an older
version left, which keeps working."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from support.otp import totp
from support.sites import OwnSite
from support.stack import Stack

from configs import load_settings
from vault import load_keyring

PREFIX = "sealed:v1:"


def spellings(secret: str) -> list[bytes]:
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    forms = [
        secret,
        secret.lower(),
        raw.hex(),
        base64.b64encode(raw).decode(),
        base64.b64encode(secret.encode()).decode(),
    ]
    return [f.encode() for f in forms] + [raw]


def _values(engine: sa.engine.Engine) -> list[bytes]:
    """Every text or binary value of every table, as bytes."""
    out = []
    tables = sa.MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        for table in tables.sorted_tables:
            for row in conn.execute(sa.select(table)):
                for value in row:
                    if isinstance(value, str):
                        out.append(value.encode())
                    elif isinstance(value, (bytes, memoryview)):
                        out.append(bytes(value))
    return out


def assert_nowhere(stack: Stack, secret: str, *, files: bool = True) -> None:
    """Not in any value of the app or vault DB, not in their files, not in any log."""
    forms = spellings(secret)
    for engine in stack.engines().values():
        try:
            values = _values(engine)
        finally:
            engine.dispose()
        assert values  # the scan did read something
        for value in values:
            assert not any(f in value or f.lower() in value.lower() for f in forms)
    if files and stack.db == "sqlite":
        for path in stack.data_dir.glob("*.sqlite3*"):  # the WAL too
            data = path.read_bytes()
            assert not any(f in data for f in forms), path.name
    logs = stack.logs().encode()
    assert not any(f in logs for f in forms)


def _user_row(stack: Stack, user_id: str) -> Any:
    engine = sa.create_engine(stack.env["SECUREFORMS_APP_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT mfa_secret, mfa_pending_secret FROM users WHERE id = :i"),
                {"i": user_id},
            ).one()
    finally:
        engine.dispose()


def _key_id(stored: str) -> str:
    return base64.b64decode(stored[len(PREFIX) :])[1:9].hex()


def _enrol(site: OwnSite) -> tuple[str, str, str, str]:
    """An agent with MFA on, enrolled over HTTP: (user id, username, password, secret).
    The confirmation spent the step before this one."""
    user_id, username, password = site.user()
    me = site.login(username, password)
    enrolled = site.call("POST", "/auth/mfa/enroll", me, {"current_password": password})
    assert enrolled.status_code == 200, enrolled.text
    secret = enrolled.json()["secret"]
    pending = _user_row(site.stack, user_id).mfa_pending_secret
    assert pending.startswith(PREFIX)
    assert_nowhere(site.stack, secret)
    code = totp(secret, time.time() - 30)
    confirmed = site.call("POST", "/auth/mfa/confirm", me, {"totp": code})
    assert confirmed.status_code == 200, confirmed.text
    return user_id, username, password, secret


def test_a_totp_secret_is_sealed_in_the_db_and_survives_a_key_rotation(stack: Stack) -> None:
    site = OwnSite.make(stack)
    user_id, username, password, secret = _enrol(site)
    row = _user_row(stack, user_id)
    assert row.mfa_pending_secret is None and row.mfa_secret.startswith(PREFIX)
    assert_nowhere(stack, secret)
    assert site.token(username, password, totp(secret, time.time()))
    old = _key_id(row.mfa_secret)

    report = json.loads(stack.cli("keys", "rotate", "--purpose", "data", "--wait").stdout)
    (new,) = report["new_primary"]
    assert report["resealed_totp_secrets"] >= 1
    assert old in report["retired"]
    resealed = _user_row(stack, user_id).mfa_secret
    assert _key_id(resealed) == new["id"] and resealed != row.mfa_secret
    listing = {k["id"]: k for k in json.loads(stack.cli("keys", "list").stdout)["keyring"]}
    assert listing[old]["state"] == "retired" and listing[old]["protects"] == "nothing"
    assert listing[new["id"]]["protects"].endswith(" TOTP secrets")
    assert not listing[new["id"]]["protects"].endswith(", 0 TOTP secrets")

    # The api, which still had the old keyring loaded, follows the rotation.
    assert site.token(username, password, totp(secret, time.time() + 30))
    # A wrong code is still the usual answer, and the secret still went nowhere.
    wrong = str((int(totp(secret, time.time())) + 500_000) % 10**6).zfill(6)
    refused = site.login_response(username, password, wrong)
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_credentials")
    assert_nowhere(stack, secret)


def _alembic(url: str, keyring: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", "core:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["version_table"] = "alembic_version_app"
    config.attributes["keyring"] = keyring
    return config


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_migrate_seals_the_plaintext_secret_an_older_version_left(db: str, tmp_path: Path) -> None:
    with Stack.running(db, "redis", tmp_path, worker=False) as stack:
        site = OwnSite.make(stack)
        user_id, username, password, secret = _enrol(site)
        stack.kill("api")
        # Back to a0002, as the version before this one left things: the secret in plaintext.
        settings = load_settings(stack.env)
        keyring = load_keyring(settings.keyring_path, allow_generate=True)
        command.downgrade(_alembic(settings.app_database_url, keyring), "a0002")
        assert _user_row(stack, user_id).mfa_secret == secret

        stack.cli("migrate")
        sealed = _user_row(stack, user_id).mfa_secret
        assert sealed.startswith(PREFIX)
        # Not the files: the plaintext row version written above may linger in free pages
        # or the WAL until SQLite reuses them (a VACUUM after upgrading clears them).
        assert_nowhere(stack, secret, files=False)
        stack.start_api()
        assert site.token(username, password, totp(secret, time.time()))
