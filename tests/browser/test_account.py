"""The account page in Chromium: an agent turns on two-step sign-in (their password asked
again, a wrong code first), keeps the recovery codes, gets a new set (password asked
again), signs in again with a code and with a recovery code (once), and changes the
password, which ends every session. Each state is checked with axe at 1280
and 375 px; the TOTP codes are computed here from the secret the page shows."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Page, expect
from support.otp import totp
from support.sites import OwnSite
from support.stack import Stack

NewPage = Callable[..., Page]
Check = Callable[[Page, str], None]
Fits = Callable[[Page], bool]
WIDE, NARROW = (1280, 900), (375, 740)


def both_widths(page: Page, accessible: Check, fits: Fits, name: str) -> None:
    accessible(page, f"{name}-1280")
    page.set_viewport_size({"width": NARROW[0], "height": NARROW[1]})
    accessible(page, f"{name}-375")
    assert fits(page), f"{name} scrolls sideways at 375 px"
    page.set_viewport_size({"width": WIDE[0], "height": WIDE[1]})


def sign_in(
    page: Page, stack: Stack, site: OwnSite, username: str, password: str, code: str = ""
) -> None:
    page.goto(f"{stack.base_url}/login?next=/account")
    page.get_by_label("Site id").fill(site.site_id)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Authenticator code").fill(code)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You have signed out.")


def h1(page: Page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def not_now(secret: str) -> str:
    """A 6-digit code that is none of the codes the server would accept just now."""
    near = {totp(secret, time.time() + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(123_456, 10**6, 111_111)) if c not in near)


def test_two_step_sign_in_recovery_codes_and_a_password_change(
    stack: Stack, new_page: NewPage, accessible: Check, fits: Fits
) -> None:
    site = OwnSite.make(stack)
    site.policies(mfa_required_roles=["agent"])
    _, username, password = site.user("agent")
    page = new_page(WIDE)

    # Sent here by a page that needs two-step sign-in: the banner says so, and has focus.
    sign_in(page, stack, site, username, password)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    page.goto(f"{stack.base_url}/account?required=1")
    banner = page.locator("#mfa-required")
    expect(banner).to_be_focused()
    expect(banner).to_contain_text("Set up two-step sign-in to continue")
    facts = page.locator(".account-facts")
    expect(facts).to_contain_text(username)
    expect(facts).to_contain_text("Agent")
    expect(facts).to_contain_text(site.site_id)
    expect(page.locator("#two-step")).to_contain_text("Off.")
    both_widths(page, accessible, fits, "account-1-required")

    # Set up: the password is asked again (a wrong one is said in words), then the secret
    # is shown grouped, never in the URL.
    setup_form = page.locator("form[action='/account/mfa/setup']")
    setup_form.get_by_label("Current password").fill("not-my-password-1")
    page.get_by_role("button", name="Set up two-step sign-in").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("That is not your current password.")
    expect(setup_form.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    both_widths(page, accessible, fits, "account-2a-setup-wrong-password")
    setup_form.get_by_label("Current password").fill(password)
    page.get_by_role("button", name="Set up two-step sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")
    shown = page.locator("#mfa-secret").inner_text().removeprefix("Key:").strip()
    secret = shown.replace(" ", "")
    assert len(secret) == 32 and shown.count(" ") == 7, shown
    expect(page.locator(".account-uri")).to_contain_text(f"otpauth://totp/SecureForms%3A{username}")
    expect(page.locator(".account-uri")).to_contain_text(f"secret={secret}")
    assert secret not in page.url
    both_widths(page, accessible, fits, "account-2-setup")

    # A wrong code: the summary says so and takes focus; nothing is turned on.
    page.get_by_label("6-digit code").fill(not_now(secret))
    page.get_by_role("button", name="Confirm").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("That is not the current code")
    expect(page.locator("#mfa-secret")).to_contain_text(shown)
    assert page.title().startswith("Error: ")
    both_widths(page, accessible, fits, "account-3-wrong-code")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    code_field = page.get_by_label("6-digit code")
    expect(code_field).to_be_focused()
    expect(code_field).to_have_attribute("aria-invalid", "true")
    assert (
        site.call("GET", "/auth/me", site.login(username, password)).json()["mfa_enabled"] is False
    )

    # The right code: recovery codes, once.
    page.keyboard.type(totp(secret, time.time()))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-step sign-in is on")
    codes = [c.strip() for c in page.locator(".account-codes li").all_inner_texts()]
    assert len(codes) == 10 and all(len(c) == 11 for c in codes), codes
    expect(page.get_by_text("They are shown only this once.")).to_be_visible()
    assert not any(c in page.url for c in codes)
    both_widths(page, accessible, fits, "account-4-recovery-codes")
    page.get_by_role("link", name="Back to your account").click()
    expect(page.locator("#two-step")).to_contain_text("On.")
    expect(page.locator("#mfa-required")).to_have_count(0)
    both_widths(page, accessible, fits, "account-5-mfa-on")

    # A new set of recovery codes, for the password again; the first set stops working.
    codes_form = page.locator("form[action='/account/mfa/codes']")
    codes_form.get_by_label("Current password").fill(password)
    page.get_by_role("button", name="Get new recovery codes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New recovery codes")
    first_set = codes
    codes = [c.strip() for c in page.locator(".account-codes li").all_inner_texts()]
    assert len(codes) == 10 and not set(codes) & set(first_set), codes
    both_widths(page, accessible, fits, "account-5a-new-recovery-codes")
    page.get_by_role("link", name="Back to your account").click()
    sign_out(page)

    # Signing in now needs the code.
    sign_in(page, stack, site, username, password)
    code_error = page.locator("#login-totp-error")
    expect(code_error).to_contain_text("Enter the 6-digit code from your authenticator app.")
    expect(page.locator("#error-summary")).to_contain_text("Enter the 6-digit code")
    expect(page.get_by_label("Authenticator code")).to_have_attribute("aria-invalid", "true")
    both_widths(page, accessible, fits, "account-6-login-needs-code")
    # Confirming spent this step's code; the next step's is inside the accepted window.
    sign_in(page, stack, site, username, password, totp(secret, time.time() + 30))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    sign_out(page)

    # A recovery code works once; one of the first set not at all.
    sign_in(page, stack, site, username, password, first_set[4])
    expect(page.locator("#error-summary")).to_contain_text("is not right")
    sign_in(page, stack, site, username, password, codes[0])
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    sign_out(page)
    sign_in(page, stack, site, username, password, codes[0])
    expect(page.locator("#error-summary")).to_contain_text("is not right")
    assert h1(page) == "Sign in"

    # A second session, to see that a password change ends it too.
    other = new_page(WIDE)
    sign_in(other, stack, site, username, password, codes[1])
    expect(other.get_by_role("heading", level=1)).to_have_text("Your account")
    sign_in(page, stack, site, username, password, codes[2])
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")

    # Change password: a policy error in words first, then success.
    page.locator("#password-current").fill(password)
    page.get_by_label("New password", exact=True).fill("too-short")
    page.get_by_label("New password again").fill("too-short")
    page.get_by_role("button", name="Change password").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The password must have at least 12 characters.")
    expect(page.locator("#password-new-error")).to_contain_text("at least 12 characters")
    expect(page.get_by_label("New password", exact=True)).to_have_value("")
    both_widths(page, accessible, fits, "account-7-password-policy")

    new = "plum tractor lantern 1984"
    page.locator("#password-current").fill(password)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("New password again").fill(new)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert page.url.endswith(f"/login?reason=password_changed&site={site.site_id}")
    expect(page.get_by_label("Site id")).to_have_value(site.site_id)
    both_widths(page, accessible, fits, "account-8-password-changed")

    # The other session has ended as well.
    other.goto(f"{stack.base_url}/account")
    expect(other.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(other.get_by_role("status")).to_contain_text("Your session has ended")

    sign_in(page, stack, site, username, new, codes[3])
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")

    # Where the change sent the first page, the sign-in form says what happened.
    other.goto(f"{stack.base_url}/login?reason=password_changed&site={site.site_id}")
    expect(other.get_by_role("status")).to_contain_text("password has been changed")
