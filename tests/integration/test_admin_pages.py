"""The admin console over plain HTTP (no JavaScript): who gets in, CSRF on every post,
bad values answered with a 422 page and an error summary while nothing is written,
markup in a form's title shown as text, saves as new versions, and the manager's
history reveal as a page."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
from support.flow import Desk, card_values
from support.shown import shows
from support.stack import Stack, choose_own_password

CONSOLE_PAGES = [
    "/admin",
    "/admin/forms",
    "/admin/forms/new",
    "/admin/users",
    "/admin/profiles",
    "/admin/policies",
    "/admin/audit",
    "/admin/history",
]


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name} in the page"
    return html.unescape(found.group(1))


@contextmanager
def signed_in(stack: Stack, username: str, password: str) -> Iterator[httpx.Client]:
    with stack.client() as c:
        form = c.get("/login")
        r = c.post(
            "/login",
            data={
                "csrf": hidden(form.text, "csrf"),
                "site": stack.site_id,
                "username": username,
                "password": password,
                "next": "",
            },
        )
        assert r.status_code == 303, r.text
        yield c


def admin_client(stack: Stack) -> AbstractContextManager[httpx.Client]:
    return signed_in(stack, *stack.admin)


def csrf_of(c: httpx.Client, path: str = "/admin") -> str:
    r = c.get(path)
    assert r.status_code == 200, r.text
    return hidden(r.text, "csrf")


def api(stack: Stack, method: str, path: str, **kwargs: Any) -> Any:
    with stack.client() as c:
        r = c.request(method, path, headers=stack.admin_headers(), **kwargs)
    assert r.status_code in (200, 201), r.text
    return r.json()


def form_count(stack: Stack) -> int:
    return len(api(stack, "GET", "/api/v1/forms?include_archived=true")["forms"])


def summary_links(page: str) -> list[str]:
    block = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'<a href="([^"]+)"', block)


def editor_post(**fields: str) -> dict[str, str]:
    """An editor post with one text field unless told otherwise."""
    data = {
        "title": "Contact details",
        "description": "",
        "name": "",
        "version": "",
        "fields-0-label": "Email",
        "fields-0-type": "email",
        "fields-0-name": "",
        "fields-0-help": "",
        "fields-0-options": "",
        "op": "save",
    }
    data.update(fields)
    return data


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_without_a_session_every_page_sends_to_sign_in(stack: Stack, path: str) -> None:
    with stack.client() as c:
        r = c.get(path)
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next={path}"


def test_without_a_session_a_post_writes_nothing(stack: Stack) -> None:
    before = form_count(stack)
    with stack.client() as c:
        r = c.post("/admin/forms/new", data=editor_post(csrf="x"))
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert form_count(stack) == before


def test_an_agent_is_sent_away_and_writes_nothing(stack: Stack) -> None:
    _, username, password = stack.new_user(stack.admin_headers(), "agent")
    users_before = len(api(stack, "GET", "/api/v1/users")["users"])
    with signed_in(stack, username, password) as c:
        for path in CONSOLE_PAGES:
            r = c.get(path)
            assert r.status_code == 303 and r.headers["location"] == "/agent", path
        token = _agent_csrf(c)
        r = c.post(
            "/admin/users",
            data={
                "csrf": token,
                "username": f"sneaky-{uuid.uuid4().hex[:6]}",
                "password": f"pw-{uuid.uuid4().hex}",
                "role": "admin",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/agent"
    assert len(api(stack, "GET", "/api/v1/users")["users"]) == users_before


def _agent_csrf(c: httpx.Client) -> str:
    """The agent's session CSRF token, from whichever signed-in page the agent has."""
    for path in ("/agent", "/account"):
        r = c.get(path)
        found = re.search(r'<meta name="csrf-token" content="([^"]*)"', r.text)
        if r.status_code == 200 and found:
            return html.unescape(found.group(1))
    return "no-token"


def test_a_manager_sees_only_what_they_may_and_refusals_are_audited(stack: Stack) -> None:
    manager_id, username, password = stack.new_user(stack.admin_headers(), "manager")
    with signed_in(stack, username, password) as c:
        overview = c.get("/admin")
        assert overview.status_code == 200
        assert 'href="/admin/users"' not in overview.text
        assert "not open to you yet" in overview.text
        refused = c.get("/admin/users")
        assert refused.status_code == 403
        assert "not available to you" in refused.text
        token = hidden(overview.text, "csrf")
        before = api(stack, "GET", "/api/v1/site/policies")
        r = c.post("/admin/policies", data={"csrf": token, "failed_login_limit": "9"})
        assert r.status_code == 403
        assert c.get("/admin/history").status_code == 403  # no view_history by default
    assert api(stack, "GET", "/api/v1/site/policies") == before
    denied = api(stack, "GET", f"/api/v1/audit?type=access.denied&user_id={manager_id}")
    assert {e["resource"] for e in denied["events"]} >= {
        "GET /admin/users",
        "POST /admin/policies",
        "GET /admin/history",
    }


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(stack: Stack) -> None:
    users_before = len(api(stack, "GET", "/api/v1/users")["users"])
    forms_before = form_count(stack)
    policies_before = api(stack, "GET", "/api/v1/site/policies")
    with admin_client(stack) as c:
        username = f"nocsrf-{uuid.uuid4().hex[:6]}"
        for path, data in [
            ("/admin/users", {"username": username, "password": "pw-" + "x" * 20, "role": "agent"}),
            ("/admin/forms/new", editor_post()),
            ("/admin/policies", {"retention_days": "30"}),
            ("/admin/profiles", {"name": "No token", "role": "agent"}),
            ("/admin/users", {"csrf": "1.forged", "username": username, "role": "agent"}),
        ]:
            r = c.post(path, data=data)
            assert r.status_code == 403, path
            assert "This page has expired" in r.text
    assert len(api(stack, "GET", "/api/v1/users")["users"]) == users_before
    assert form_count(stack) == forms_before
    assert api(stack, "GET", "/api/v1/site/policies") == policies_before


def test_out_of_bounds_policies_answer_422_with_a_summary_and_change_nothing(
    stack: Stack,
) -> None:
    before = api(stack, "GET", "/api/v1/site/policies")
    with admin_client(stack) as c:
        token = csrf_of(c, "/admin/policies")
        data = {
            "csrf": token,
            "password_min_length": "6",
            "failed_login_limit": "3",
            "idle_timeout_s": "lots",
            "idle_action": "logout",
            "retention_days": "400",
            "off_record_ttl_s": "300",
            "frame_ancestors": "http://insecure.example.com",
        }
        r = c.post("/admin/policies", data=data)
    assert r.status_code == 422
    assert r.text.count("<title>Error: ") == 1
    assert summary_links(r.text) == [
        "#policy-password_min_length",
        "#policy-idle_timeout_s",
        "#policy-frame_ancestors",
    ]
    assert "Shortest password: Must be between 7 and 128." in r.text
    assert 'id="policy-idle_timeout_s" name="idle_timeout_s" value="lots"' in r.text
    assert api(stack, "GET", "/api/v1/site/policies") == before  # retention too: all or none


def test_a_bad_user_or_profile_answers_422_and_writes_nothing(stack: Stack) -> None:
    users_before = len(api(stack, "GET", "/api/v1/users")["users"])
    profiles_before = len(api(stack, "GET", "/api/v1/profiles")["profiles"])
    manager_profile = next(
        p["id"] for p in api(stack, "GET", "/api/v1/profiles")["profiles"] if p["role"] == "manager"
    )
    secret = f"Canary-{uuid.uuid4().hex}"
    with admin_client(stack) as c:
        token = csrf_of(c, "/admin/users")
        cases = [
            ({"username": "", "password": secret, "role": "agent"}, ["#new-username"]),
            ({"username": "x" * 151, "password": secret, "role": "boss"}, None),
            ({"username": "ok-name", "password": "short", "role": "agent"}, ["#new-password"]),
            (
                {
                    "username": f"mismatch-{uuid.uuid4().hex[:6]}",
                    "password": secret,
                    "role": "agent",
                    "profile_id": manager_profile,
                },
                ["#new-profile-id"],
            ),
        ]
        for data, links in cases:
            r = c.post("/admin/users", data={"csrf": token, **data})
            assert r.status_code == 422, data
            assert secret not in r.text
            assert 'id="new-password" name="password" value=""' in r.text
            if links is not None:
                assert summary_links(r.text) == links
        r = c.post(
            "/admin/profiles",
            data={
                "csrf": token,
                "name": "Agents who see history",
                "role": "agent",
                "perm:secure_forms.view_history": "on",
            },
        )
        assert r.status_code == 422
        assert summary_links(r.text) == ["#perm-secure-forms-use"]
        assert "A agent profile may grant" in r.text or "profile may grant" in r.text
    assert len(api(stack, "GET", "/api/v1/users")["users"]) == users_before
    assert len(api(stack, "GET", "/api/v1/profiles")["profiles"]) == profiles_before


def test_a_bad_form_answers_422_with_links_to_its_fields_and_writes_nothing(
    stack: Stack,
) -> None:
    before = form_count(stack)
    with admin_client(stack) as c:
        token = csrf_of(c, "/admin/forms/new")
        r = c.post(
            "/admin/forms/new",
            data=editor_post(
                csrf=token,
                **{
                    "title": "",
                    "fields-0-type": "select",
                    "fields-1-label": "Age",
                    "fields-1-type": "number",
                    "fields-1-min": "ten",
                    "fields-1-pattern": "(a+)+",
                },
            ),
        )
    assert r.status_code == 422
    assert summary_links(r.text) == ["#form-title", "#e0-options", "#e1-pattern", "#e1-min"]
    assert "Field 2: “Lowest number” must be a number." in r.text
    assert form_count(stack) == before


def test_an_editing_step_writes_nothing_and_moves_the_field(stack: Stack) -> None:
    before = form_count(stack)
    with admin_client(stack) as c:
        token = csrf_of(c, "/admin/forms/new")
        data = editor_post(
            csrf=token, op="up-1", **{"fields-1-label": "Phone", "fields-1-type": "phone"}
        )
        r = c.post("/admin/forms/new", data=data)
    assert r.status_code == 200
    assert r.text.index('value="Phone"') < r.text.index('value="Email"')
    assert "Moved “Phone” up; it is now field 1 of 2." in r.text
    assert 'id="e0-down"' in r.text.split("autofocus", 1)[0][-400:]
    assert form_count(stack) == before


def test_markup_in_a_title_is_shown_as_text(stack: Stack) -> None:
    title = '<script>alert("owned")</script><img src=x onerror=alert(1)>'
    with admin_client(stack) as c:
        token = csrf_of(c, "/admin/forms/new")
        r = c.post(
            "/admin/forms/new",
            data=editor_post(
                csrf=token,
                title=title,
                name=f"xss_{uuid.uuid4().hex[:6]}",
                **{"fields-0-label": "<b>Bold</b> label"},
            ),
        )
        assert r.status_code == 303, r.text
        form_id = r.headers["location"].split("/admin/forms/")[1].split("?")[0]
        for path in ("/admin/forms", f"/admin/forms/{form_id}"):
            page = c.get(path).text
            assert "<script>alert" not in page and "<img src=x" not in page
            assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in page
        assert "&lt;b&gt;Bold&lt;/b&gt; label" in c.get(f"/admin/forms/{form_id}").text
    assert api(stack, "GET", f"/api/v1/forms/{form_id}")["title"] == title


def test_saving_makes_a_new_version_and_a_stale_save_is_caught(stack: Stack) -> None:
    with admin_client(stack) as c:
        token = csrf_of(c, "/admin/forms/new")
        name = f"versions_{uuid.uuid4().hex[:6]}"
        r = c.post("/admin/forms/new", data=editor_post(csrf=token, name=name))
        assert r.status_code == 303
        form_id = r.headers["location"].split("/admin/forms/")[1].split("?")[0]
        assert "The form was created." in c.get(r.headers["location"]).text

        edit = editor_post(csrf=token, name=name, version="1", title="Contact details v2")
        r = c.post(f"/admin/forms/{form_id}", data=edit)
        assert r.status_code == 303
        assert r.headers["location"] == f"/admin/forms/{form_id}?done=form_saved"
        assert api(stack, "GET", f"/api/v1/forms/{form_id}")["version"] == 2

        # Saved from version 1 again, as a second tab would: refused, the draft kept.
        stale = c.post(f"/admin/forms/{form_id}", data={**edit, "title": "From a stale tab"})
        assert stale.status_code == 409
        assert "it is now version 2" in stale.text
        assert 'value="From a stale tab"' in stale.text
        assert api(stack, "GET", f"/api/v1/forms/{form_id}")["title"] == "Contact details v2"

        # Archiving: DELETE's rule; afterwards the editor is read-only.
        r = c.post(f"/admin/forms/{form_id}/archive", data={"csrf": token})
        assert r.status_code == 303 and r.headers["location"] == "/admin/forms?done=form_archived"
        assert api(stack, "GET", f"/api/v1/forms/{form_id}")["archived"] is True
        page = c.get(f"/admin/forms/{form_id}").text
        assert 'id="editor"' not in page and "This form is archived" in page
        r = c.post(f"/admin/forms/{form_id}", data={**edit, "version": "2"})
        assert r.status_code == 200  # re-rendered, nothing saved
        assert api(stack, "GET", f"/api/v1/forms/{form_id}")["version"] == 2


def test_unknown_ids_are_404_pages(stack: Stack) -> None:
    with admin_client(stack) as c:
        for path in (
            f"/admin/forms/{uuid.uuid4()}",
            f"/admin/users/{uuid.uuid4()}",
            f"/admin/profiles/{uuid.uuid4()}",
            "/admin/forms/%00bad",
            "/admin/users/..%2F..%2Fetc",
        ):
            r = c.get(path)
            assert r.status_code == 404, path


def test_users_are_created_disabled_and_re_enabled(stack: Stack) -> None:
    username, password = f"pat-{uuid.uuid4().hex[:6]}", f"pw-{uuid.uuid4().hex}"
    with admin_client(stack) as c:
        token = csrf_of(c, "/admin/users")
        r = c.post(
            "/admin/users",
            data={
                "csrf": token,
                "username": username,
                "password": password,
                "role": "agent",
                "display_name": "Pat",
                "profile_id": "",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin/users?done=user_created"
        listing = c.get(r.headers["location"]).text
        assert password not in listing
        user_id = re.search(rf'href="/admin/users/([^"]+)">{username}<', listing)
        assert user_id
        uid = user_id.group(1)
        r = c.post(f"/admin/users/{uid}/status", data={"csrf": token, "enabled": "false"})
        assert r.headers["location"] == f"/admin/users/{uid}?done=user_disabled"
        assert api(stack, "GET", f"/api/v1/users/{uid}")["enabled"] is False
        r = c.post(f"/admin/users/{uid}/status", data={"csrf": token, "enabled": "true"})
        assert api(stack, "GET", f"/api/v1/users/{uid}")["enabled"] is True
        # An admin can't lock themselves out.
        me = api(stack, "GET", "/api/v1/auth/me")["id"]
        r = c.post(f"/admin/users/{me}/status", data={"csrf": token, "enabled": "false"})
        assert r.status_code == 409 and "disable your own account" in r.text
    assert api(stack, "GET", f"/api/v1/users/{me}")["enabled"] is True


def test_the_audit_filters_are_checked(stack: Stack) -> None:
    with admin_client(stack) as c:
        ok = c.get("/admin/audit", params={"type": "auth.", "since": "2020-01-01"})
        assert ok.status_code == 200 and "auth.login" in ok.text
        bad = c.get("/admin/audit", params={"since": "last tuesday", "type": "DROP TABLE"})
        assert bad.status_code == 422
        assert summary_links(bad.text) == ["#filter-since", "#filter-type"]


def test_a_manager_reveals_stored_answers_on_a_page_without_script(stack: Stack) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    submit_otk = desk.open(sent)
    name = f"Canary {uuid.uuid4().hex[:8]}"
    assert desk.submit(submit_otk, card_values(name=name, cvv="987")).status_code == 202
    submission_id = desk.wait_submitted(sent.request_id)["submission_id"]
    profile = api(
        stack,
        "POST",
        "/api/v1/profiles",
        json={
            "name": f"Reviewers {uuid.uuid4().hex[:6]}",
            "role": "manager",
            "permissions": ["secure_forms.view_history"],
        },
    )
    username, password = f"rev-{uuid.uuid4().hex[:6]}", f"pw-{uuid.uuid4().hex}"
    made = api(
        stack,
        "POST",
        "/api/v1/users",
        json={
            "username": username,
            "password": password,
            "role": "manager",
            "profile_id": profile["id"],
        },
    )
    with stack.client() as c:
        password = choose_own_password(c, stack.site_id, username, password)
    with signed_in(stack, username, password) as c:
        page = c.get("/admin/history")
        assert page.status_code == 200
        assert f'data-submission="{submission_id}"' in page.text
        assert name not in page.text and not shows(page.text, "4242", "4242424242424242")
        token = hidden(page.text, "csrf")
        action = f"/admin/history/submissions/{submission_id}/reveal"
        assert c.post(action, data={}).status_code == 403
        shown = c.post(action, data={"csrf": token})
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "no-store"
        assert "Visa •••• 4242" in shown.text and name in shown.text
        assert not shows(shown.text, "987")  # off the record: never stored
        missing = c.post(f"/admin/history/submissions/{uuid.uuid4()}/reveal", data={"csrf": token})
        assert missing.status_code == 404
    revealed = api(stack, "GET", f"/api/v1/audit?type=form.history_revealed&user_id={made['id']}")[
        "events"
    ]
    outcomes = {(e["outcome"], submission_id in (e["resource"] or "")) for e in revealed}
    assert ("success", True) in outcomes and ("failure", False) in outcomes


def test_the_audit_trail_pages_latest_first(stack: Stack) -> None:
    profile = api(
        stack,
        "POST",
        "/api/v1/profiles",
        json={"name": f"Paged {uuid.uuid4().hex[:6]}", "role": "agent", "permissions": []},
    )
    with stack.client() as c:
        headers = stack.admin_headers()
        for n in range(52):
            r = c.patch(
                f"/api/v1/profiles/{profile['id']}",
                headers=headers,
                json={"name": f"Paged {profile['id'][:8]} {n}"},
            )
            assert r.status_code == 200, r.text
    with admin_client(stack) as c:
        first = c.get("/admin/audit", params={"type": "profile.changed"})
        assert first.status_code == 200
        rows = re.findall(r'data-label="On" class="wrap-anywhere">(profile:[^<]*)<', first.text)
        assert len(rows) == 50
        assert rows[0].endswith(f"name=Paged {profile['id'][:8]} 51")  # the latest first
        older = re.search(r'<a href="(/admin/audit\?[^"]*before=[0-9]+)">Older entries', first.text)
        assert older, "no link to older entries"
        second = c.get(html.unescape(older.group(1)))
        more = re.findall(r'data-label="On" class="wrap-anywhere">(profile:[^<]*)<', second.text)
        assert more and not set(more) & set(rows)
        assert 'href="/admin/audit?type=profile.changed">Newest entries' in second.text
