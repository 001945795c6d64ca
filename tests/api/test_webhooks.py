"""The webhook endpoints in process: who may, what is shown once, which URLs are refused
(in production mode too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.inprocess import Api, bearer

from api.services import Services
from connectors.webhooks import Policy
from core.outbox import EVENTS

HOOKS = "/api/v1/webhooks"
RECEIVER = "http://127.0.0.1:9/hook"  # never called here: nothing drains in process


def test_create_list_rotate_delete(api: Api, admin: str) -> None:
    made = api.http.post(
        HOOKS, headers=bearer(admin), json={"url": RECEIVER, "events": list(EVENTS)}
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_") and hook["events"] == list(EVENTS)
    assert made.headers["cache-control"] == "no-store"

    listed = api.http.get(HOOKS, headers=bearer(admin)).json()["webhooks"]
    mine = next(h for h in listed if h["id"] == hook["id"])
    assert hook["secret"] not in str(listed) and mine["previous_secret_until"] is None

    rotated = api.http.post(f"{HOOKS}/{hook['id']}/rotate-secret", headers=bearer(admin))
    assert rotated.status_code == 200 and rotated.json()["secret"] != hook["secret"]
    listed = api.http.get(HOOKS, headers=bearer(admin)).json()["webhooks"]
    mine = next(h for h in listed if h["id"] == hook["id"])
    assert mine["previous_secret_until"] == rotated.json()["previous_secret_until"]

    log = api.http.get(f"{HOOKS}/{hook['id']}/deliveries", headers=bearer(admin))
    assert log.status_code == 200 and log.json() == {"deliveries": []}
    bad_limit = api.http.get(f"{HOOKS}/{hook['id']}/deliveries?limit=0", headers=bearer(admin))
    assert bad_limit.status_code == 422 and "limit" in bad_limit.json()["fields"]

    assert api.http.delete(f"{HOOKS}/{hook['id']}", headers=bearer(admin)).status_code == 204
    assert api.http.delete(f"{HOOKS}/{hook['id']}", headers=bearer(admin)).status_code == 404
    gone = api.http.get(f"{HOOKS}/{hook['id']}/deliveries", headers=bearer(admin))
    assert gone.status_code == 404


def test_agents_and_keys_without_the_scope_are_refused(api: Api, agent: str) -> None:
    body = {"url": RECEIVER, "events": ["secure_form.sent"]}
    assert api.http.post(HOOKS, headers=bearer(agent), json=body).status_code == 403
    assert api.http.get(HOOKS, headers=bearer(agent)).status_code == 403
    assert api.http.post(HOOKS, headers=bearer(api.api_key), json=body).status_code == 403
    assert api.http.post(HOOKS, json=body).status_code == 401


def test_a_key_with_the_webhooks_scope_manages_webhooks(api: Api, admin: str) -> None:
    made = api.http.post(
        "/api/v1/site/api-keys",
        headers=bearer(admin),
        json={"name": "platform hooks", "scopes": ["webhooks"]},
    )
    assert made.status_code == 201, made.text
    key = bearer(made.json()["api_key"])
    body = {"url": RECEIVER, "events": ["secure_form.sent"]}
    hook = api.http.post(HOOKS, headers=key, json=body)
    assert hook.status_code == 201, hook.text
    assert any(
        h["id"] == hook.json()["id"] for h in api.http.get(HOOKS, headers=key).json()["webhooks"]
    )
    rotated = api.http.post(f"{HOOKS}/{hook.json()['id']}/rotate-secret", headers=key)
    assert rotated.status_code == 200
    assert api.http.delete(f"{HOOKS}/{hook.json()['id']}", headers=key).status_code == 204
    # the scope is for webhooks only
    assert api.http.get("/api/v1/conversations", headers=key).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url", "events": ["secure_form.sent"]}, "url"),
        ({"url": "http://10.0.0.1/x", "events": ["secure_form.sent"]}, "url"),
        (
            {"url": "http://127.0.0.1:8000/api/v1/conversations", "events": ["secure_form.sent"]},
            "url",
        ),
        ({"url": RECEIVER, "events": ["secure_form.sent", "secure_form.nope"]}, "events"),
        ({"url": RECEIVER, "events": []}, "events"),
        ({"url": RECEIVER}, "events"),
        ({"url": RECEIVER, "events": ["secure_form.sent"], "secret": "mine"}, "secret"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    api: Api, admin: str, body: dict[str, object], field: str
) -> None:
    r = api.http.post(HOOKS, headers=bearer(admin), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_failed" and field in r.json()["fields"]


@pytest.fixture
def production_rules(api: Api) -> Iterator[None]:
    """The api's URL rules as production has them (its settings stay the test's)."""
    services: Services = api.http.app.state.services  # type: ignore[attr-defined]
    kept = services.webhook_policy
    services.webhook_policy = Policy(production=True, own_url="https://secureforms.example")
    try:
        yield
    finally:
        services.webhook_policy = kept


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/hook",
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.1.1.1/hook",
        "https://192.168.0.1/hook",
        "https://169.254.169.254/latest/meta-data/iam/",
        "https://[fe80::1]/hook",
        "https://secureforms.example/api/v1/webhooks",
    ],
)
def test_production_refuses_ssrf_targets(
    api: Api, admin: str, production_rules: None, url: str
) -> None:
    r = api.http.post(HOOKS, headers=bearer(admin), json={"url": url, "events": list(EVENTS)})
    assert r.status_code == 422, r.text
    assert set(r.json()["fields"]) == {"url"}


def test_production_takes_https_to_a_public_address(
    api: Api, admin: str, production_rules: None
) -> None:
    r = api.http.post(
        HOOKS,
        headers=bearer(admin),
        json={"url": "https://93.184.216.34/hook", "events": ["secure_form.sent"]},
    )
    assert r.status_code == 201, r.text
    api.http.delete(f"{HOOKS}/{r.json()['id']}", headers=bearer(admin))
