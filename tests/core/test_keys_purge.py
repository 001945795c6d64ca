"""Purging retired keys against a real app DB, vault DB and keyring file: a key that still
seals something stays, as does every other one of that purge; an unused one leaves the
file for good."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import pytest

from core import audit, keys, logins, mfa, users
from core.actors import Actor
from core.errors import Conflict, NotFound
from core.runtime import Runtime
from core.sessions import resolve_session

PASSWORD = "correct-horse-9"


def _enrolled(rt: Runtime, admin: Actor) -> str:
    """An agent with MFA on, its secret sealed under today's primary data key: its id."""
    name = f"agent-{uuid.uuid4().hex[:6]}"
    user_id = users.create_user(rt, admin.site_id, name, PASSWORD, "agent")
    actor = resolve_session(rt, logins.log_in(rt, admin.site_id, name, PASSWORD)["token"])
    secret = mfa.enroll(rt, actor, PASSWORD)["secret"]
    mfa.confirm(rt, actor, mfa.totp(secret, time.time()))
    return user_id


def test_a_retired_key_still_in_use_is_refused_and_an_unused_one_purged(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    keys.rotate(rt, ("data",))  # a primary that seals nothing of the other tests
    sealing = rt.keyring.primary("data").id
    user_id = _enrolled(rt, admin)
    keys.rotate(rt, ("data",))
    # Retired by hand before anything re-sealed the TOTP secret it protects.
    assert rt.keyring.retire({sealing}) == [sealing]
    listed = {k["id"]: k for k in keys.describe(rt)["keyring"]}
    assert listed[sealing]["state"] == "retired"
    assert re.search(r"\b[1-9][0-9]* TOTP secrets", listed[sealing]["protects"])
    with pytest.raises(Conflict, match=f"{sealing} .*still protects data"):
        keys.purge_retired(rt, [sealing])
    with pytest.raises(Conflict, match="not retired"):
        keys.purge_retired(rt, [rt.keyring.primary("data").id])
    with pytest.raises(NotFound):
        keys.purge_retired(rt, ["00" * 8])
    assert rt.keyring.current.find(bytes.fromhex(sealing)) is not None  # nothing was removed

    # A retired key opens nothing, so that secret can't be re-sealed: once the admin
    # resets the user's MFA, the key protects nothing and can go.
    users.update_user(rt, admin, user_id, {"mfa_reset": True})
    assert keys.purge_retired(rt, [sealing]) == [sealing]
    assert sealing not in rt.keyring.path.read_text()
    with pytest.raises(NotFound):
        keys.purge_retired(rt, [sealing])
    (entry,) = audit.list_events(rt, admin.site_id, type="keys.purged")
    assert entry["resource"] == f"data:{sealing}"
