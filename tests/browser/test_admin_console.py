"""The admin console in Chromium: an admin builds a form with the keyboard (add, reorder,
remove, off the record), previews it as the visitor sees it and saves it; manages users,
profiles, policies, API keys and webhooks; filters the audit trail. A manager reveals a
stored answer in engagement history. Every page and state passes axe (WCAG 2.0 A/AA) at
1280 and 375 px and fits 375 px without sideways scrolling."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect
from support.flow import Desk, card_values
from support.shown import shows
from support.stack import Stack, choose_own_password

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
Fits = Callable[[Page], bool]
WIDE, NARROW = (1280, 900), (375, 740)


def sign_in(page: Page, stack: Stack, username: str, password: str) -> None:
    page.goto(f"{stack.base_url}/login")
    page.get_by_label("Site id").fill(stack.site_id)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin$"))


def both_sizes(page: Page, name: str, accessible: Check, fits: Fits) -> None:
    """axe at 1280 and 375 px, and no sideways scrolling at 375 px."""
    accessible(page, f"admin-{name}-1280")
    page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
    try:
        accessible(page, f"admin-{name}-375")
        assert fits(page), f"{name} scrolls sideways at 375 px"
    finally:
        page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})


def focused_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement && document.activeElement.id"))


def press_on(page: Page, selector: str, key: str = "Enter") -> None:
    """Focus a control and press a key on it, as a keyboard user does."""
    page.locator(selector).focus()
    page.keyboard.press(key)


def api_get(stack: Stack, path: str) -> Any:
    with stack.client() as c:
        r = c.get(path, headers=stack.admin_headers())
    assert r.status_code == 200, r.text
    return r.json()


def legends(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(".field-legend").all_inner_texts()]


def test_an_admin_builds_previews_and_saves_a_form_with_the_keyboard(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Fits
) -> None:
    page = new_page(WIDE)
    sign_in(page, stack, *stack.admin)
    expect(page.get_by_role("heading", level=1)).to_have_text("Console")
    both_sizes(page, "1-overview", accessible, fits)

    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Forms"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Secure forms")
    both_sizes(page, "2-forms", accessible, fits)

    page.get_by_role("link", name="New form").click()
    expect(page.locator("#form-title")).to_be_focused()
    both_sizes(page, "3-editor-new", accessible, fits)
    title = f"Refund {uuid.uuid4().hex[:6]}"
    page.keyboard.type(title)
    page.keyboard.press("Tab")  # description
    page.keyboard.type("For the refund of a double payment.")
    page.locator("#e0-label").focus()
    page.keyboard.type("Full name")
    page.keyboard.press("Tab")  # type: stays "Text, one line"
    page.keyboard.press("Tab")
    assert focused_id(page) == "e0-required"
    page.keyboard.press("Space")

    def add(label: str, kind: str) -> None:
        count = page.locator(".field-editor").count()
        press_on(page, "#add-field")
        expect(page.locator(".field-editor")).to_have_count(count + 1)
        expect(page.locator(f"#e{count}-label")).to_be_focused()
        page.keyboard.type(label)
        page.locator(f"#e{count}-type").select_option(kind)

    add("Card number", "card_number")
    page.locator("#e1-required").focus()
    page.keyboard.press("Space")
    add("Security code", "cvv")
    # A security code is always off the record: the box says so and can't be unticked.
    expect(page.locator("#e2-otr")).to_be_checked()
    expect(page.locator("#e2-otr")).to_be_disabled()
    add("Date of birth", "date")
    press_on(page, "#e3-otr", "Space")  # marked off the record with the keyboard
    expect(page.locator("#e3-otr")).to_be_checked()
    add("Notes", "textarea")
    expect(page.locator("#live")).to_have_text("Added field 5.")

    # Open the "More settings" of "Date of birth", then move it up: focus stays on its
    # "Move up" button in its new place, and what was open stays open.
    press_on(page, "#e3 summary")
    expect(page.locator("#e3-help")).to_be_visible()
    press_on(page, "#e3-up")
    expect(page.locator("#e2-up")).to_be_focused()
    expect(page.locator("#e2-help")).to_be_visible()
    expect(page.locator("#e3-help")).to_be_hidden()
    expect(page.locator("#live")).to_have_text("Moved “Date of birth” up; it is now field 3 of 5.")
    assert legends(page)[2] == "Field 3 of 5: Date of birth"
    assert legends(page)[3] == "Field 4 of 5: Security code"
    # To the top and back down with the same keys.
    page.keyboard.press("Enter")
    expect(page.locator("#e1-up")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#e0-down")).to_be_focused()  # "Move up" is now disabled
    assert legends(page)[0] == "Field 1 of 5: Date of birth"
    page.keyboard.press("Enter")
    expect(page.locator("#e1-down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#e2-down")).to_be_focused()
    assert [x.split(": ", 1)[1] for x in legends(page)] == [
        "Full name",
        "Card number",
        "Date of birth",
        "Security code",
        "Notes",
    ]
    # What was typed and ticked moved with the fields.
    expect(page.locator("#e2-otr")).to_be_checked()
    expect(page.locator("#e2-type")).to_have_value("date")
    expect(page.locator("#e3-otr")).to_be_disabled()

    # Remove "Notes": focus goes to the field now last.
    press_on(page, "#e4-remove")
    expect(page.locator(".field-editor")).to_have_count(4)
    expect(page.locator("#e3-label")).to_be_focused()
    expect(page.locator("#live")).to_have_text("Removed field 5, “Notes”.")

    # The preview is the visitor's form: their labels, hints and controls, in order.
    press_on(page, "#update-preview")
    preview = page.locator("#preview")
    expect(preview.get_by_role("heading", name=title)).to_be_visible()
    expect(preview.get_by_label("Card number (required)")).to_have_attribute(
        "autocomplete", "cc-number"
    )
    expect(preview.get_by_label("Security code")).to_be_visible()
    # The preview is swapped in by script: wait for the new one rather than read the old.
    fields = preview.locator(".field")
    expect(fields).to_have_count(4)
    for i, name in enumerate(["full_name", "card_number", "date_of_birth", "security_code"]):
        expect(fields.nth(i)).to_have_attribute("data-field", name)
    expect(preview.get_by_role("button", name="Send securely")).to_be_disabled()
    both_sizes(page, "4-editor-preview", accessible, fits)

    # Typing updates the preview without a button.
    page.locator("#e0-label").fill("Name on card")
    expect(preview.get_by_label("Name on card")).to_be_visible()

    # Save: Enter in a text box saves (never a field's "Move up").
    page.locator("#form-title").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="The form was created.")).to_be_visible()
    form_id = page.url.split("/admin/forms/")[1].split("?")[0]
    saved = api_get(stack, f"/api/v1/forms/{form_id}")
    assert saved["version"] == 1
    assert [f["name"] for f in saved["fields"]] == [
        "name_on_card",
        "card_number",
        "date_of_birth",
        "security_code",
    ]
    assert [f["off_the_record"] for f in saved["fields"]] == [False, False, True, True]
    assert [f["required"] for f in saved["fields"]] == [True, True, False, False]
    both_sizes(page, "5-editor-saved", accessible, fits)

    # A broken draft is refused with a summary whose links lead to the fields.
    page.locator("#e1-type").select_option("select")
    page.locator("#form-title").fill("")
    page.locator("#save-form").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(2)
    both_sizes(page, "6-editor-errors", accessible, fits)
    summary.get_by_role("link", name=re.compile("options")).click()
    expect(page.locator("#e1-options")).to_be_focused()
    page.keyboard.type("Visa\nMastercard")
    page.locator("#form-title").fill(title)
    page.locator("#save-form").click()
    expect(page.get_by_role("status").filter(has_text="Saved as a new version")).to_be_visible()
    assert api_get(stack, f"/api/v1/forms/{form_id}")["version"] == 2

    # Archiving asks first.
    page.get_by_role("link", name="Archive this form…").click()
    both_sizes(page, "7-archive-confirm", accessible, fits)
    page.get_by_role("button", name="Archive the form").click()
    expect(page.get_by_role("status")).to_contain_text("The form was archived.")
    assert api_get(stack, f"/api/v1/forms/{form_id}")["archived"] is True
    page.get_by_role("link", name=title).click()
    expect(page.locator("#editor")).to_have_count(0)
    both_sizes(page, "8-editor-archived", accessible, fits)


def test_an_admin_manages_users_profiles_policies_and_reads_the_audit(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Fits
) -> None:
    page = new_page(WIDE)
    sign_in(page, stack, *stack.admin)

    # A profile first, so the new user can get it.
    page.goto(f"{stack.base_url}/admin/profiles")
    both_sizes(page, "profiles-1-list", accessible, fits)
    profile_name = f"Quiet agents {uuid.uuid4().hex[:4]}"
    page.get_by_label("Name").fill(profile_name)
    page.get_by_label("Role").select_option("agent")
    page.get_by_role("button", name="Create profile").click()
    expect(page.get_by_role("status")).to_have_text("The profile was created.")
    page.get_by_role("link", name=profile_name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(profile_name)
    profile_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_label("Send secure forms")).not_to_be_checked()
    both_sizes(page, "profiles-2-one", accessible, fits)
    page.get_by_label("Send secure forms").check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("The profile was saved.")
    expect(page.get_by_label("Send secure forms")).to_be_checked()

    # A user: a password that breaks the policy is refused and not put back.
    page.goto(f"{stack.base_url}/admin/users")
    both_sizes(page, "users-1-list", accessible, fits)
    username = f"sam-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Username").fill(username)
    page.get_by_label("Display name").fill("Sam at Support")
    page.get_by_label("Role").select_option("agent")
    page.get_by_label("Profile").select_option(profile_id)
    page.get_by_label("First password").fill("short")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.get_by_label("First password")).to_have_value("")
    expect(page.get_by_label("Username")).to_have_value(username)
    both_sizes(page, "users-2-errors", accessible, fits)
    password = f"pw-{uuid.uuid4().hex}"
    page.get_by_label("First password").fill(password)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("The user was created.")
    page.get_by_role("link", name=username).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sam at Support")
    both_sizes(page, "users-3-one", accessible, fits)

    page.get_by_role("button", name=f"Disable {username}").click()
    expect(page.get_by_role("status")).to_contain_text("The user was disabled")
    with stack.client() as c:
        refused = c.post(
            "/api/v1/auth/login",
            json={"site_id": stack.site_id, "username": username, "password": password},
        )
    assert refused.status_code == 423
    both_sizes(page, "users-4-disabled", accessible, fits)
    page.get_by_role("button", name=f"Re-enable {username}").click()
    expect(page.get_by_role("status")).to_contain_text("The user was re-enabled")
    headers = stack.login(username, password)
    with stack.client() as c:
        me = c.get("/api/v1/auth/me", headers=headers).json()
    assert me["permissions"] == ["secure_forms.use"] and me["display_name"] == "Sam at Support"

    # Policies: a change is saved; an out-of-bounds value is refused, naming its bounds.
    page.goto(f"{stack.base_url}/admin/policies")
    both_sizes(page, "policies-1", accessible, fits)
    retention = page.get_by_label("Keep stored answers for")
    before = retention.input_value()
    retention.fill("400")
    page.get_by_role("button", name="Save policies").click()
    expect(page.get_by_role("status")).to_have_text("The policies were saved.")
    assert api_get(stack, "/api/v1/site/policies")["retention_days"] == 400
    page.get_by_label("Failed sign-ins before the account locks").fill("11")
    page.get_by_label("Keep stored answers for").fill(before)
    page.get_by_role("button", name="Save policies").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text(
        "Failed sign-ins before the account locks: Must be between 1 and 10."
    )
    both_sizes(page, "policies-2-errors", accessible, fits)
    assert api_get(stack, "/api/v1/site/policies")["retention_days"] == 400  # all or nothing
    summary.get_by_role("link").click()
    expect(page.get_by_label("Failed sign-ins before the account locks")).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type("3")
    page.get_by_role("button", name="Save policies").click()
    expect(page.get_by_role("status")).to_have_text("The policies were saved.")
    assert api_get(stack, "/api/v1/site/policies")["retention_days"] == int(before)

    # The audit trail, filtered by type and user.
    page.goto(f"{stack.base_url}/admin/audit")
    both_sizes(page, "audit-1-all", accessible, fits)
    page.get_by_label("Type of event").select_option("policy.changed")
    page.get_by_role("button", name="Show entries").click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("policy.changed")
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {"policy.changed"}
    expect(rows.first).to_contain_text("retention_days=")
    page.get_by_label("Type of event").select_option("auth.")
    page.get_by_label("User").select_option(label="Sam at Support")
    page.get_by_role("button", name="Show entries").click()
    expect(rows.first).to_contain_text("auth.login")
    assert set(rows.locator("td:nth-child(4)").all_inner_texts()) == {"Sam at Support"}
    both_sizes(page, "audit-2-filtered", accessible, fits)
    page.get_by_label("Since").fill("yesterday")
    page.get_by_role("button", name="Show entries").click()
    expect(page.locator("#error-summary")).to_be_focused()
    both_sizes(page, "audit-3-errors", accessible, fits)


def test_a_manager_sees_history_and_reveals_a_stored_answer(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Fits
) -> None:
    desk = Desk.make(stack)
    sent = desk.send()
    submit_otk = desk.open(sent)
    assert desk.submit(submit_otk, card_values(name="Grace Hopper")).status_code == 202
    submitted = desk.wait_submitted(sent.request_id)
    submission_id = submitted["submission_id"]

    admin = stack.admin_headers()
    with stack.client() as c:
        made = c.post(
            "/api/v1/profiles",
            headers=admin,
            json={
                "name": f"History reviewers {uuid.uuid4().hex[:4]}",
                "role": "manager",
                "permissions": ["secure_forms.view_history"],
            },
        )
        assert made.status_code == 201, made.text
        username, password = f"mia-{uuid.uuid4().hex[:6]}", f"pw-{uuid.uuid4().hex}"
        r = c.post(
            "/api/v1/users",
            headers=admin,
            json={
                "username": username,
                "password": password,
                "role": "manager",
                "display_name": "Mia",
                "profile_id": made.json()["id"],
            },
        )
        assert r.status_code == 201, r.text
        password = choose_own_password(c, stack.site_id, username, password)

    page = new_page(WIDE)
    sign_in(page, stack, username, password)
    sections = page.get_by_role("navigation", name="Console sections").get_by_role("link")
    expect(sections).to_have_text(["Overview", "Engagement history"])
    both_sizes(page, "history-1-manager-overview", accessible, fits)
    page.goto(f"{stack.base_url}/admin/users")
    expect(page.get_by_role("heading", level=1)).to_contain_text("not available to you")
    both_sizes(page, "history-2-manager-refused", accessible, fits)

    page.goto(f"{stack.base_url}/admin/history")
    item = page.locator(f'[data-submission="{submission_id}"]')
    expect(item).to_contain_text("Sent by agent-")
    expect(item).to_contain_text("Not kept (off the record): CVV")
    both_sizes(page, "history-3-list", accessible, fits)
    assert not shows(page.content(), "4242", "4242424242424242")

    item.get_by_role("button", name=re.compile("Reveal stored answers")).click()
    panel = item.locator(".revealed")
    expect(panel.get_by_role("heading", name="Stored answers")).to_be_focused()
    expect(panel).to_contain_text("•••• 4242")
    expect(panel).to_contain_text("Name on card")
    assert "4242424242424242" not in page.content()  # masked until shown
    assert "CVV" not in panel.inner_text()  # off the record: never stored
    both_sizes(page, "history-4-revealed-masked", accessible, fits)
    show = panel.get_by_role("button", name="Show Card number")
    show.focus()
    page.keyboard.press("Enter")
    expect(panel).to_contain_text("4242424242424242")
    hide = panel.get_by_role("button", name="Hide Card number")
    expect(hide).to_be_focused()
    expect(hide).to_have_attribute("aria-pressed", "true")
    both_sizes(page, "history-5-revealed-shown", accessible, fits)

    expect(panel.locator(".reveal-timer")).to_contain_text("Cleared from this page in")
    panel.get_by_role("button", name="Close and clear").click()
    expect(item.locator(".revealed")).to_have_count(0)
    expect(item.get_by_role("button", name=re.compile("Reveal stored answers"))).to_be_focused()
    assert "4242424242424242" not in page.content()

    # Left alone, they go after a minute; one press keeps them another minute.
    page.clock.install()
    item.get_by_role("button", name=re.compile("Reveal stored answers")).click()
    expect(panel.get_by_role("heading", name="Stored answers")).to_be_focused()
    page.clock.run_for(40_000)
    panel.get_by_role("button", name="Keep for another minute").click()
    page.clock.run_for(40_000)
    expect(panel).to_contain_text("•••• 4242")
    page.clock.run_for(21_000)
    expect(item.locator(".revealed")).to_have_count(0)
    expect(page.locator("#live")).to_have_text(
        "The answers were cleared from the page after a minute."
    )
    assert "Grace Hopper" not in page.content()

    events = api_get(stack, "/api/v1/audit?type=form.history_revealed")["events"]
    assert any(submission_id in (e["resource"] or "") for e in events)

    # Without script the same button posts a form and answers a page, masked until opened.
    item.locator(".reveal-form").evaluate("form => form.submit()")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Stored answers")
    both_sizes(page, "history-6-reveal-page", accessible, fits)


def test_without_javascript_the_editor_still_works(stack: Stack, new_page: NewPage) -> None:
    page = new_page(WIDE, js=False)
    sign_in(page, stack, *stack.admin)
    page.goto(f"{stack.base_url}/admin/forms/new")
    title = f"Plain {uuid.uuid4().hex[:6]}"
    page.get_by_label("Title the visitor sees").fill(title)
    page.locator("#e0-label").fill("Email")
    page.locator("#e0-type").select_option("email")
    page.get_by_role("button", name="Add a field").click()
    expect(page.locator("#e1-label")).to_be_focused()  # `autofocus` after the reload
    page.keyboard.type("Phone")
    page.locator("#e1-type").select_option("phone")
    page.locator("#e1-up").click()
    expect(page.locator("#e0-down")).to_be_focused()
    expect(page.locator("#editor-status")).to_have_text("Moved “Phone” up; it is now field 1 of 2.")
    expect(page.locator("#preview .field")).to_have_count(2)
    expect(page.locator("#preview").get_by_label("Phone")).to_have_attribute("type", "tel")
    page.get_by_label("Title the visitor sees").press("Enter")  # Save, the default button
    expect(page.get_by_role("status")).to_have_text("The form was created.")
    form_id = page.url.split("/admin/forms/")[1].split("?")[0]
    saved = api_get(stack, f"/api/v1/forms/{form_id}")
    assert [f["type"] for f in saved["fields"]] == ["phone", "email"]


def test_an_admin_makes_and_deletes_an_api_key_with_the_keyboard(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Fits
) -> None:
    page = new_page(WIDE)
    sign_in(page, stack, *stack.admin)
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="API keys"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.locator("#scope-conversations")).to_be_checked()  # the default scope
    both_sizes(page, "keys-1-list", accessible, fits)

    # Nothing ticked and no name: both named, focus on the summary.
    press_on(page, "#scope-conversations", "Space")
    page.get_by_role("button", name="Make key").click()
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.locator("#error-summary")).to_contain_text("letters, digits")
    both_sizes(page, "keys-2-errors", accessible, fits)

    name = f"Bot {uuid.uuid4().hex[:6]}"
    page.locator("#key-name").focus()
    page.keyboard.type(name)
    press_on(page, "#scope-secure-forms", "Space")
    page.locator("#key-name").press("Enter")
    made = page.locator("#made-key")
    expect(made).to_be_focused()
    key = page.locator("#made-key-value").input_value()
    assert key.startswith("sfk_")
    both_sizes(page, "keys-3-made", accessible, fits)
    row = page.get_by_role("row", name=re.compile(name))
    expect(row).to_contain_text("Secure forms")
    with stack.client() as c:
        bearer = {"Authorization": f"Bearer {key}"}
        assert c.get("/api/v1/secure-forms/x", headers=bearer).status_code != 401

    # Shown once: the list never shows it again.
    page.goto(f"{stack.base_url}/admin/api-keys")
    assert key not in page.content()
    page.get_by_role("button", name=f"Delete key “{name}”").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("The API key was deleted. It no longer works.")
    expect(page.get_by_role("row", name=re.compile(name))).to_have_count(0)
    with stack.client() as c:
        assert c.get("/api/v1/secure-forms/x", headers=bearer).status_code == 401


def test_an_admin_adds_rotates_and_removes_a_webhook_with_the_keyboard(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Fits
) -> None:
    page = new_page(WIDE)
    sign_in(page, stack, *stack.admin)
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Webhooks"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    both_sizes(page, "hooks-1-list", accessible, fits)

    page.locator("#webhook-url").focus()
    page.keyboard.type("https://10.0.0.1/hooks")
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text("public address")
    both_sizes(page, "hooks-2-refused", accessible, fits)

    url = f"http://127.0.0.1:{stack.port + 1}/hooks"  # never called: nothing is sent here
    page.locator("#webhook-url").fill("")
    page.locator("#webhook-url").focus()
    page.keyboard.type(url)
    press_on(page, "#event-2", "Space")  # secure_form.opened off
    page.locator("#webhook-url").press("Enter")
    expect(page.locator("#made-secret")).to_be_focused()
    secret = page.locator("#made-secret-value").input_value()
    assert secret.startswith("whsec_")
    expect(page.locator("main")).not_to_contain_text("secure_form.sent, secure_form.opened")
    both_sizes(page, "hooks-3-added", accessible, fits)

    page.goto(f"{stack.base_url}/admin/webhooks")
    assert secret not in page.content()
    page.get_by_role("button", name=f"New secret for {url}").focus()
    page.keyboard.press("Enter")
    rotated = page.locator("#made-secret-value").input_value()
    assert rotated.startswith("whsec_") and rotated != secret
    expect(page.locator("main")).to_contain_text("also signs until")

    page.get_by_role("button", name=f"Remove {url}").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "The webhook was removed; nothing more is sent to it."
    )
    expect(page.get_by_role("button", name=f"Remove {url}")).to_have_count(0)
