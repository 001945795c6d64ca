"""Site policies: the safe bounds of every field, and what a change does to live sessions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from core import audit, logins, sessions, users
from core.actors import Actor
from core.policies import (
    BOUNDS,
    PolicyOutOfBounds,
    SitePolicies,
    site_policies,
    update_policies,
    validated,
)
from core.runtime import Runtime


def test_the_defaults_are_the_contract() -> None:
    assert SitePolicies().to_json() == {
        "password_min_length": 12,
        "failed_login_limit": 3,
        "idle_timeout_s": 900,
        "idle_action": "logout",
        "retention_days": 395,
        "off_record_ttl_s": 300,
        "link_opens": 1,
        "mfa_required_roles": [],
        "frame_ancestors": [],
        "agent_frame_ancestors": [],
        "default_language": "en",
    }


def _refused(changes: dict[str, Any], *, test_env: bool = False) -> dict[str, str]:
    with pytest.raises(PolicyOutOfBounds) as refused:
        validated(SitePolicies(), changes, test_env=test_env)
    assert (refused.value.status, refused.value.code) == (422, "policy_out_of_bounds")
    assert refused.value.fields is not None
    return refused.value.fields


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_whole_number_policies_keep_to_their_bounds(name: str) -> None:
    low, high = BOUNDS[name]
    assert validated(SitePolicies(), {name: low}).to_json()[name] == low
    assert validated(SitePolicies(), {name: high}).to_json()[name] == high
    for bad in (low - 1, high + 1, str(low), True, 1.5, None):
        assert set(_refused({name: bad})) == {name}, bad


def test_the_default_language_is_one_the_visitor_pages_speak() -> None:
    assert validated(SitePolicies(), {"default_language": "fr"}).default_language == "fr"
    for bad in ("ar", "FR", "fr-FR", "", None, 1):
        assert set(_refused({"default_language": bad})) == {"default_language"}, bad
    # Stored before the policy existed: the default, English.
    assert SitePolicies.loads('{"retention_days": 30}').default_language == "en"


def test_the_safe_limits_of_pci_dss() -> None:
    assert "between 7 and" in _refused({"password_min_length": 6})["password_min_length"]
    assert "and 900" in _refused({"idle_timeout_s": 901})["idle_timeout_s"]
    assert "and 10" in _refused({"failed_login_limit": 11})["failed_login_limit"]


def test_only_the_test_environment_allows_seconds_short_timeouts() -> None:
    _refused({"idle_timeout_s": 2, "off_record_ttl_s": 2})
    short = validated(SitePolicies(), {"idle_timeout_s": 2, "off_record_ttl_s": 2}, test_env=True)
    assert (short.idle_timeout_s, short.off_record_ttl_s) == (2, 2)
    _refused({"idle_timeout_s": 0}, test_env=True)
    _refused({"idle_timeout_s": 901}, test_env=True)
    _refused({"password_min_length": 6}, test_env=True)


def test_roles_actions_and_origins() -> None:
    assert validated(SitePolicies(), {"mfa_required_roles": ["admin", "agent"]}).to_json()[
        "mfa_required_roles"
    ] == ["agent", "admin"]
    assert set(_refused({"mfa_required_roles": ["agent", "root"]})) == {"mfa_required_roles"}
    assert set(_refused({"mfa_required_roles": "agent"})) == {"mfa_required_roles"}
    assert set(_refused({"idle_action": "lock"})) == {"idle_action"}
    good = validated(
        SitePolicies(),
        {"frame_ancestors": ["https://Chat.Example.com/", "https://*.example.org:8443"]},
    )
    assert good.frame_ancestors == ("https://chat.example.com", "https://*.example.org:8443")
    for bad in (
        ["http://chat.example.com"],
        ["https://chat.example.com/path"],
        ["https://chat.example.com; script-src *"],
        ["https://user@chat.example.com"],
        ["https://chat.example.com:99999"],
        ["*"],
        "https://chat.example.com",
        ["https://a.example.com"] * 0 + [f"https://s{i}.example.com" for i in range(21)],
    ):
        assert set(_refused({"frame_ancestors": bad})) == {"frame_ancestors"}, bad


@pytest.mark.parametrize(
    "wide",
    [
        "https://*.com",
        "https://*.co.uk",
        "https://*.github.io",  # a private suffix: every user's pages differ in owner
        "https://*.com:8443",
        "https://*.xn--p1ai",
    ],
)
def test_a_wildcard_over_a_public_suffix_is_refused(wide: str) -> None:
    refused = _refused({"frame_ancestors": ["https://chat.example.com", wide]})
    assert refused == {
        "frame_ancestors": f"{wide} lets every site under a public suffix frame the forms; a "
        "wildcard must stand before a domain of your own, like https://*.example.com."
    }


@pytest.mark.parametrize(
    "origin",
    [
        "https://*.example.com",
        "https://*.example.co.uk",
        "https://*.chat.example.com",
        "https://*.ada.github.io",
        "https://com",  # no wildcard: one host, whatever it is called
    ],
)
def test_a_wildcard_under_a_registrable_domain_is_kept(origin: str) -> None:
    assert validated(SitePolicies(), {"frame_ancestors": [origin]}).frame_ancestors == (origin,)


def test_a_wide_wildcard_saved_before_the_rule_is_not_honoured() -> None:
    raw = '{"frame_ancestors": ["https://*.com", "https://*.example.com"]}'
    assert SitePolicies.loads(raw).frame_ancestors == ("https://*.example.com",)


def test_every_bad_field_is_named_at_once_and_nothing_changes(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    with pytest.raises(PolicyOutOfBounds) as refused:
        update_policies(
            rt,
            admin,
            {"password_min_length": 3, "retention_days": 0, "idle_timeout_s": 600, "nope": 1},
        )
    assert set(refused.value.fields or {}) == {"password_min_length", "retention_days", "nope"}
    assert site_policies(rt, admin.site_id) == SitePolicies()


def test_a_change_is_kept_audited_and_re_times_live_sessions(
    rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(rt)
    users.create_user(rt, admin.site_id, "ada", "correct-horse-9", "agent")
    token = logins.log_in(rt, admin.site_id, "ada", "correct-horse-9")["token"]
    session = sessions._key(token)
    assert rt.redis.hget(session, "idle") == b"900"
    after = update_policies(rt, admin, {"idle_timeout_s": 300, "retention_days": 30})
    assert site_policies(rt, admin.site_id) == after
    assert (after.idle_timeout_s, after.retention_days) == (300, 30)
    assert rt.redis.hget(session, "idle") == b"300"
    (entry,) = audit.list_events(rt, admin.site_id, type="policy.changed")
    assert entry["user_id"] == admin.user_id
    assert entry["resource"] == "policies:idle_timeout_s=300;retention_days=30"
    # The same values again change nothing and say nothing.
    update_policies(rt, admin, {"idle_timeout_s": 300})
    assert len(audit.list_events(rt, admin.site_id, type="policy.changed")) == 1


def test_stored_junk_beside_a_wide_wildcard_still_loads() -> None:
    # What an older release or a hand edit left in the row: loading must not fail on it
    # (the page would lose its frame-ancestors); the CSP builder drops what is no origin.
    raw = json.dumps({"frame_ancestors": ["https://a.example.com", 7, "https://*.com"]})
    assert SitePolicies.loads(raw).frame_ancestors == ("https://a.example.com", 7)
