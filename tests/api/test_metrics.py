"""`GET /metrics` in process: who may read it (open in test, a bearer token, or not on the
app port at all when it has a listen address of its own) and what it counts, by the
names docs/operations.md gives (prometheus-client's text, parsed by its own parser)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from support.flow import Desk, card_values
from support.inprocess import BASE_URL, Api

from api.app import create_app
from configs import load_settings

TOKEN = "scrape-" + "k" * 30


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0 when it is not there yet)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def scrape(api: Api) -> str:
    r = api.http.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return r.text


@contextmanager
def app_with(api: Api, **env: str) -> Iterator[TestClient]:
    """An api of its own over the session's stores, with other settings."""
    settings = load_settings(api.env | {f"SECUREFORMS_{k.upper()}": v for k, v in env.items()})
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        yield client


def test_requests_are_counted_by_route_template_method_and_status(api: Api) -> None:
    before = scrape(api)
    assert api.http.get("/healthz").status_code == 200
    assert api.http.get("/no/such/path/otk-secret-looking-value").status_code == 404
    after = scrape(api)
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert sample(after, "secureforms_http_requests_total", **labels) == (
        sample(before, "secureforms_http_requests_total", **labels) + 1
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert sample(after, "secureforms_http_requests_total", **unmatched) >= 1
    assert "otk-secret-looking-value" not in after  # a template, never the raw path
    count = {"method": "GET", "route": "/healthz"}
    assert sample(after, "secureforms_http_request_duration_seconds_count", **count) >= 1
    assert sample(after, "secureforms_http_request_duration_seconds_bucket", le="+Inf", **count)


def test_the_queue_is_looked_at_without_taking_anything(api: Api) -> None:
    """No worker runs here: an accepted submit stays queued, and scrapes leave it there."""
    broker = redis.Redis.from_url(api.settings.broker_url)
    desk = Desk.make(api)  # type: ignore[arg-type]  # Api speaks like a Stack here
    submit_otk = desk.open(desk.send())
    before = scrape(api)
    assert desk.submit(submit_otk, card_values()).status_code == 202
    queued = broker.llen("secureforms")
    for _ in range(3):
        text = scrape(api)
    assert broker.llen("secureforms") == queued  # nothing taken
    assert sample(text, "secureforms_queue_stats_up") == 1
    depth = sample(text, "secureforms_queue_depth", queue="secureforms")
    assert depth == queued == sample(before, "secureforms_queue_depth", queue="secureforms") + 1
    # The oldest message's age, from the publisher's header; none is from the future.
    assert sample(text, "secureforms_queue_oldest_age_seconds", queue="secureforms") > 0
    broker.close()


def test_submits_and_otk_redemptions_are_counted_by_outcome(api: Api) -> None:
    desk = Desk.make(api)  # type: ignore[arg-type]  # Api speaks like a Stack here
    sent = desk.send()
    before = scrape(api)
    submit_otk = desk.open(sent)
    refused = desk.submit(submit_otk, card_values(card="4242424242424241"))  # bad Luhn
    assert refused.status_code == 422, refused.text
    assert desk.submit(submit_otk, card_values()).status_code == 202
    assert desk.submit(submit_otk, card_values()).status_code == 410  # spent
    after = scrape(api)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("secureforms_submits_total", outcome="accepted") == 1
    assert delta("secureforms_submits_total", outcome="invalid_answers") == 1
    assert delta("secureforms_submits_total", outcome="invalid_or_expired") == 1
    redemptions = "secureforms_otk_redemptions_total"
    assert delta(redemptions, action="open", outcome="redeemed") == 1
    assert delta(redemptions, action="submit", outcome="redeemed") == 1
    # The replay is refused before its key is redeemed (the peek fails first).
    assert delta("secureforms_submits_publish_failed_total") == 0
    assert "4242424242424242" not in after


def test_rate_limit_hits_are_counted_by_kind(api: Api) -> None:
    with app_with(api, login_rate_per_minute="1") as client:
        body = {"site_id": api.site_id, "username": "nobody-here", "password": "x" * 12}
        before = sample(client.get("/metrics").text, "secureforms_rate_limit_hits_total")
        answers = [client.post("/api/v1/auth/login", json=body).status_code for _ in range(3)]
        assert 429 in answers
        after = client.get("/metrics").text
    assert sample(after, "secureforms_rate_limit_hits_total", kind="login") >= before + 1


def test_a_refused_publish_is_counted(api: Api) -> None:
    desk = Desk.make(api)  # type: ignore[arg-type]
    submit_otk = desk.open(desk.send())
    with app_with(api, broker_url="redis://127.0.0.1:1/0", publish_timeout_s="0.5") as client:
        before = sample(client.get("/metrics").text, "secureforms_submits_publish_failed_total")
        r = client.post("/api/v1/visitor/submit", json={"otk": submit_otk, "values": card_values()})
        assert r.status_code == 503, r.text
        after = client.get("/metrics").text
    assert sample(after, "secureforms_submits_publish_failed_total") == before + 1
    assert sample(after, "secureforms_submits_total", outcome="unavailable") >= 1


def test_a_token_guards_metrics_on_the_app_port(api: Api) -> None:
    with app_with(api, metrics_token=TOKEN) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = client.get("/metrics", headers=headers)
            assert r.status_code == 401, headers
            assert r.json()["error"] == "unauthenticated"
            assert r.headers["www-authenticate"] == 'Bearer realm="metrics"'
            assert "secureforms_" not in r.text
        r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        assert "secureforms_http_requests_total" in r.text
        assert r.headers["cache-control"] == "no-store"


def test_a_listen_address_takes_metrics_off_the_app_port(api: Api) -> None:
    with app_with(api, metrics_listen="127.0.0.1:9100", metrics_token=TOKEN) as client:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            r = client.get("/metrics", headers=headers)
            assert r.status_code == 404 and r.json()["error"] == "not_found"
