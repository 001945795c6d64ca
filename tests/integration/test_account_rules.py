"""The password and username rules over HTTP against the real api: letters and digits
(PCI-DSS 8.3.6), and no look-alike of an existing username."""

from __future__ import annotations

from support.sites import OwnSite
from support.stack import Stack


def test_passwords_need_letters_and_digits_and_names_no_look_alikes(stack: Stack) -> None:
    site = OwnSite.make(stack)  # its admin is "admin"

    def create(username: str, password: str) -> tuple[int, dict[str, object]]:
        body = {"username": username, "password": password, "role": "agent"}
        r = site.call("POST", "/users", site.admin, body)
        return r.status_code, r.json()

    status, answer = create("grace", "only-letters-in-here")
    assert status == 422 and answer["error"] == "password_policy"
    assert answer["fields"] == {"password": "The password must contain both letters and digits."}
    for lookalike in ("\u0430dmin", "ADMIN", "\uff41\uff44\uff4d\uff49\uff4e"):
        status, answer = create(lookalike, "letters-and-digits-1")
        assert (status, answer["error"]) == (409, "conflict"), lookalike
    status, answer = create("  grace\u3000", "letters-and-digits-1")
    assert status == 201
    made = site.call("GET", f"/users/{answer['id']}", site.admin).json()
    assert made["username"] == "grace"
    assert site.token("grace", "letters-and-digits-1")
