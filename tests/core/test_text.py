"""The one definition of storable text and of our ids (core.text)."""

from __future__ import annotations

import uuid

import pytest

from core.actors import USER_ROLES, Actor, Role, user_role
from core.text import is_id, is_uuid, one_line, storable


@pytest.mark.parametrize("text", ["plain", "ünïcödé", "line\nbreak", ""])
def test_text_every_store_holds(text: str) -> None:
    assert storable(text)


@pytest.mark.parametrize("text", ["a\x00b", "lone \ud800 surrogate"])
def test_nul_and_lone_surrogates_are_not_storable(text: str) -> None:
    assert not storable(text)
    assert not one_line(text)


@pytest.mark.parametrize("text", ["tab\there", "line\nbreak", "del\x7f"])
def test_one_line_refuses_control_characters(text: str) -> None:
    assert storable(text) and not one_line(text)


def test_ids() -> None:
    made = str(uuid.uuid4())
    assert is_uuid(made) and is_id(made) and is_id("payment_card-2")
    # `re.match` with `$` let a trailing newline through; fullmatch does not.
    for bad in (made + "\n", made.upper(), "", "x" * 65, "a/b", None, 7):
        assert not is_uuid(bad)
    for bad in ("abc\n", "", "x" * 65, "a/b", "a b", None):
        assert not is_id(bad)


def test_roles_are_stored_as_their_plain_strings() -> None:
    assert [str(r) for r in USER_ROLES] == ["agent", "manager", "admin"]
    actor = Actor(site_id="s", role="admin")  # type: ignore[arg-type]  # as a row hands it in
    assert actor.role is Role.ADMIN and actor.role == "admin"
    assert user_role("manager") is Role.MANAGER
    assert user_role("site_key") is None and user_role("root") is None
    with pytest.raises(ValueError):
        Actor(site_id="s", role="root")  # type: ignore[arg-type]
