"""Usernames are NFKC-normalised and trimmed, and a look-alike of an existing one is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core import logins, users
from core.actors import Actor
from core.errors import Conflict, ValidationFailed
from core.runtime import Runtime
from core.usernames import normalise, skeleton

PASSWORD = "correct-horse-9"


def test_names_are_normalised_and_look_alikes_share_a_skeleton() -> None:
    assert normalise("  ａｄｍｉｎ\t") == "admin"
    assert skeleton("\u0430dmin") == skeleton("admin") == skeleton("ADMIN")  # Cyrillic а
    assert skeleton("p\u0430yp\u0430l") == skeleton("paypal")
    assert skeleton("alice") != skeleton("alicia")


def test_a_look_alike_of_an_existing_name_is_refused(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)  # its admin is "admin"
    for lookalike in ("\u0430dmin", "Admin", "ａｄｍｉｎ", " admin "):
        with pytest.raises(Conflict):
            users.create_user(rt, admin.site_id, lookalike, PASSWORD, "agent")
    with pytest.raises(ValidationFailed):
        users.create_user(rt, admin.site_id, "   ", PASSWORD, "agent")
    # The stored name is the normal form, and signing in with another form of it works.
    user_id = users.create_user(rt, admin.site_id, "  ｇｒａｃｅ ", PASSWORD, "agent")
    assert users.get_user(rt, admin.site_id, user_id)["username"] == "grace"
    assert logins.log_in(rt, admin.site_id, "grace ", PASSWORD)["user"]["id"] == user_id
    # Another site may have its own "аdmin".
    other = new_site(rt)
    users.create_user(rt, other.site_id, "\u0430dmin-2", PASSWORD, "agent")


@pytest.mark.parametrize(
    "hidden",
    [
        *("\u200b", "\u200c", "\u200d", "\u200f", "\u202e", "\u00ad", "\u2060"),
        *("\u034f", "\ufe0f", "\u3164", "\u115f", "\u2800", "\U000e0041", "\u180e"),
    ],
)
def test_characters_that_show_nothing_make_no_new_name(hidden: str) -> None:
    # The review's `ad\u200bmin` was created beside `admin` (review finding).
    assert skeleton(f"ad{hidden}min") == skeleton("admin")
    assert skeleton(f"admin{hidden}") == skeleton("admin")
