"""Profiles: defaults per site, custom ones within a role, and who may hold them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core import audit, policies, profiles, users
from core.actors import USE_SECURE_FORMS, VIEW_HISTORY, Actor
from core.errors import Conflict, Forbidden, NotFound
from core.runtime import Runtime


def test_every_site_starts_with_one_default_profile_per_role(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    listed = {(p["role"], p["name"]): p for p in profiles.list_profiles(rt, admin)}
    assert set(listed) == {("agent", "Agent"), ("manager", "Manager"), ("admin", "Administrator")}
    assert all(p["is_default"] for p in listed.values())
    assert listed["agent", "Agent"]["permissions"] == [USE_SECURE_FORMS]
    assert listed["manager", "Manager"]["permissions"] == []
    other = new_site(rt)
    assert not {p["id"] for p in profiles.list_profiles(rt, other)} & {
        p["id"] for p in listed.values()
    }


def test_a_profile_grants_only_what_its_role_allows(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    quiet = profiles.create_profile(rt, admin, "Agents without secure forms", "agent", [])
    assert (quiet["role"], quiet["permissions"], quiet["is_default"]) == ("agent", [], False)
    for role, permissions in (
        ("agent", [VIEW_HISTORY]),
        ("manager", [USE_SECURE_FORMS]),
        ("admin", [VIEW_HISTORY]),
        ("agent", ["site.everything"]),
        ("agent", "secure_forms.use"),
    ):
        with pytest.raises(profiles.InvalidProfile) as refused:
            profiles.create_profile(rt, admin, f"bad-{role}", role, permissions)
        assert set(refused.value.fields or {}) == {"permissions"}
    with pytest.raises(profiles.InvalidProfile):
        profiles.create_profile(rt, admin, "Root", "root", [])
    with pytest.raises(profiles.InvalidProfile):
        profiles.create_profile(rt, admin, "   ", "agent", [])
    with pytest.raises(Conflict):
        profiles.create_profile(rt, admin, "Agents without secure forms", "manager", [])


def test_a_profile_keeps_its_role_and_its_changes_are_audited(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    made = profiles.create_profile(rt, admin, "Reviewers", "manager", [])
    with pytest.raises(profiles.InvalidProfile) as refused:
        profiles.update_profile(rt, admin, made["id"], {"role": "agent"})
    assert set(refused.value.fields or {}) == {"role"}
    changed = profiles.update_profile(
        rt, admin, made["id"], {"name": "History reviewers", "permissions": [VIEW_HISTORY]}
    )
    assert (changed["name"], changed["permissions"]) == ("History reviewers", [VIEW_HISTORY])
    with pytest.raises(Conflict):
        profiles.update_profile(rt, admin, made["id"], {"name": "Manager"})
    entries = audit.list_events(rt, admin.site_id, type="profile.changed")
    assert [e["resource"] for e in entries] == [
        f"profile:{made['id']};created;role=manager;permissions=",
        f"profile:{made['id']};name=History reviewers;permissions={VIEW_HISTORY}",
    ]
    assert {e["user_id"] for e in entries} == {admin.user_id}


def test_users_take_profiles_of_their_role_and_site_only(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin, other = new_site(rt), new_site(rt)
    agent_profile = profiles.create_profile(rt, admin, "Quiet agents", "agent", [])
    theirs = profiles.create_profile(rt, other, "Their agents", "agent", [])
    manager_id = users.create_user(rt, admin.site_id, "max", "correct-horse-9", "manager")
    with pytest.raises(profiles.InvalidProfile) as refused:
        users.update_user(rt, admin, manager_id, {"profile_id": agent_profile["id"]})
    assert "agent role" in refused.value.message
    for profile_id in (theirs["id"], "no-such-profile"):
        with pytest.raises(profiles.InvalidProfile):
            users.create_user(
                rt, admin.site_id, "ada", "correct-horse-9", "agent", profile_id=profile_id
            )
    agent_id = users.create_user(
        rt, admin.site_id, "ada", "correct-horse-9", "agent", profile_id=agent_profile["id"]
    )
    assert users.get_user(rt, admin.site_id, agent_id)["permissions"] == []
    with pytest.raises(NotFound):
        profiles.get_profile(rt, other, agent_profile["id"])
    with pytest.raises(NotFound):
        profiles.update_profile(rt, other, agent_profile["id"], {"permissions": []})


def test_a_default_profile_change_reaches_its_users(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    user_id = users.create_user(rt, admin.site_id, "max", "correct-horse-9", "manager")
    (default,) = [
        p for p in profiles.list_profiles(rt, admin) if p["role"] == "manager" and p["is_default"]
    ]
    profiles.update_profile(rt, admin, default["id"], {"permissions": [VIEW_HISTORY]})
    assert users.get_user(rt, admin.site_id, user_id)["permissions"] == [VIEW_HISTORY]
    listed = {u["id"]: u for u in users.list_users(rt, admin)}
    assert listed[user_id]["permissions"] == [VIEW_HISTORY]


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_only_an_admin_manages_users_profiles_and_policies_whoever_calls_core(
    rt: Runtime, new_site: Callable[..., Actor], role: str
) -> None:
    """The API checks roles at its edge; core checks again, so the console, a script or a
    future endpoint that forgets cannot let an agent or a manager through."""
    admin = new_site(rt)
    profile_id = profiles.list_profiles(rt, admin)[0]["id"]
    user_id = users.list_users(rt, admin)[0]["id"]
    someone = Actor(site_id=admin.site_id, role=role, user_id=f"{role}-1")
    attempts: list[Callable[[Actor], object]] = [
        lambda a: users.list_users(rt, a),
        lambda a: users.update_user(rt, a, user_id, {"enabled": False}),
        lambda a: profiles.list_profiles(rt, a),
        lambda a: profiles.get_profile(rt, a, profile_id),
        lambda a: profiles.create_profile(rt, a, "Mine", "agent", []),
        lambda a: profiles.update_profile(rt, a, profile_id, {"name": "Mine"}),
        lambda a: policies.update_policies(rt, a, {"idle_timeout_s": 600}),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            attempt(someone)
    assert users.list_users(rt, admin)[0]["enabled"] is True
    assert "Mine" not in {p["name"] for p in profiles.list_profiles(rt, admin)}
