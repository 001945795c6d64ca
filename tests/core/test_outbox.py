"""The webhook outbox on a real app DB: events written with their change, sent in order per
conversation, retried on the settings' schedule and marked failed past it; the secrets
sealed at rest and rotated with an overlap. The sender is a recording function standing
in for the HTTP connector (tested against a real receiver in tests/connectors)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from core import keys, outbox, webhooks
from core.actors import Actor
from core.clock import utcnow
from core.errors import Forbidden, NotFound, ValidationFailed
from core.runtime import Runtime
from core.schema import webhook_deliveries, webhook_events
from core.schema import webhooks as webhooks_table


def allow(url: object) -> str | None:
    return None


@dataclass
class Result:
    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code == 200


@dataclass
class Recorder:
    answers: list[int | None] = field(default_factory=list)  # then 200 for the rest
    calls: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    def __call__(
        self, url: str, body: bytes, *, event_id: str, event_type: str, secrets: Sequence[str]
    ) -> Result:
        self.calls.append((event_id, list(secrets), body))
        code = self.answers.pop(0) if self.answers else 200
        return Result(code, None if code else "could not connect")


def _hook(rt: Runtime, admin: Actor, events: list[str] | None = None) -> dict[str, str]:
    body = {"url": "https://hooks.example.com/x", "events": events or list(outbox.EVENTS)}
    return webhooks.create(rt, admin, body, allow)


def _emit(rt: Runtime, admin: Actor, key: str, type: str = "conversation.closed") -> str | None:
    with rt.app_engine.begin() as conn:
        return outbox.emit(conn, admin.site_id, type, key, {"conversation_id": key})


def _event_ids(rt: Runtime, admin: Actor) -> set[str]:
    with rt.app_engine.connect() as conn:
        return set(
            conn.execute(
                select(webhook_events.c.id).where(webhook_events.c.site_id == admin.site_id)
            ).scalars()
        )


def test_nothing_is_written_for_a_site_without_a_webhook_for_the_type(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(any_rt)
    assert _emit(any_rt, admin, "c1") is None
    _hook(any_rt, admin, ["secure_form.sent"])
    assert _emit(any_rt, admin, "c1") is None
    assert _event_ids(any_rt, admin) == set()


def test_an_event_rolls_back_with_the_change_that_caused_it(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(any_rt)
    _hook(any_rt, admin)
    with pytest.raises(RuntimeError), any_rt.app_engine.begin() as conn:
        outbox.emit(conn, admin.site_id, "conversation.closed", "c1", {})
        raise RuntimeError("the change failed")
    assert _event_ids(any_rt, admin) == set()


def test_in_order_per_conversation_with_backoff_then_failed(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(any_rt)
    hook = _hook(any_rt, admin)
    first, second = _emit(any_rt, admin, "conv-a"), _emit(any_rt, admin, "conv-a")
    other = _emit(any_rt, admin, "conv-b")
    start = utcnow()
    sender = Recorder(answers=[None])
    # the first fails: the second of its conversation waits behind it
    assert outbox.run_group(any_rt, sender, hook["id"], "conv-a", now=lambda: start) == 0
    assert [c[0] for c in sender.calls] == [first]
    # another conversation is not held up
    assert outbox.run_group(any_rt, sender, hook["id"], "conv-b", now=lambda: start) == 1
    # not yet due: the test schedule waits 1 s after a first failure
    assert outbox.run_group(any_rt, sender, hook["id"], "conv-a", now=lambda: start) == 0
    later = start + timedelta(seconds=1.5)
    assert outbox.run_group(any_rt, sender, hook["id"], "conv-a", now=lambda: later) == 2
    assert [c[0] for c in sender.calls] == [first, other, first, second]

    listed = webhooks.deliveries(any_rt, admin, hook["id"])["deliveries"]
    assert [(d["event_id"], d["status"]) for d in listed][-1] == (first, "retrying")
    assert {d["delivery_status"] for d in listed} == {"delivered"}

    # past webhook_retry_for_s (a day) a failing delivery is marked failed, and the next
    # event of its conversation goes
    stuck, after = _emit(any_rt, admin, "conv-c"), _emit(any_rt, admin, "conv-c")
    # the next wait (1 s) would end just past the day
    near_end = utcnow() + timedelta(seconds=any_rt.settings.webhook_retry_for_s - 0.5)
    failing = Recorder(answers=[500])
    assert outbox.run_group(any_rt, failing, hook["id"], "conv-c", now=lambda: near_end) == 0
    assert outbox.run_group(any_rt, failing, hook["id"], "conv-c", now=lambda: near_end) == 1
    assert [c[0] for c in failing.calls] == [stuck, after]
    newest = webhooks.deliveries(any_rt, admin, hook["id"], limit=2)["deliveries"]
    assert newest[1]["status"] == "failed" and newest[1]["response_code"] == 500
    assert newest[1]["error"] == "answered 500"


def test_the_secret_is_sealed_and_a_rotation_signs_with_both_for_a_day(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(any_rt)
    hook = _hook(any_rt, admin)
    with any_rt.app_engine.connect() as conn:
        stored = conn.execute(
            select(webhooks_table.c.secret).where(webhooks_table.c.id == hook["id"])
        ).scalar_one()
    assert hook["secret"].startswith("whsec_") and hook["secret"] not in stored

    rotated = webhooks.rotate_secret(any_rt, admin, hook["id"])
    assert rotated["secret"] != hook["secret"]
    sender = Recorder()
    _emit(any_rt, admin, "k")
    outbox.run_group(any_rt, sender, hook["id"], "k")
    assert sender.calls[-1][1] == [rotated["secret"], hook["secret"]]
    listed = webhooks.list_webhooks(any_rt, admin)["webhooks"]
    assert listed[0]["previous_secret_until"] == rotated["previous_secret_until"]
    assert "secret" not in listed[0]

    _emit(any_rt, admin, "k")
    a_day_on: Callable[[], datetime] = lambda: utcnow() + timedelta(hours=24, seconds=1)  # noqa: E731
    outbox.run_group(any_rt, sender, hook["id"], "k", now=a_day_on)
    assert sender.calls[-1][1] == [rotated["secret"]]


def test_a_body_is_the_event_and_nothing_else(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(any_rt)
    hook = _hook(any_rt, admin)
    event_id = _emit(any_rt, admin, "conv-z")
    sender = Recorder()
    outbox.run_group(any_rt, sender, hook["id"], "conv-z")
    body = json.loads(sender.calls[0][2])
    assert set(body) == {"id", "type", "created_at", "site_id", "data"}
    assert body["id"] == event_id and body["site_id"] == admin.site_id


def test_deleting_a_webhook_drops_what_it_had_not_sent(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(any_rt)
    hook = _hook(any_rt, admin)
    _emit(any_rt, admin, "gone")
    webhooks.delete_webhook(any_rt, admin, hook["id"])
    with any_rt.app_engine.connect() as conn:
        left = conn.execute(
            select(webhook_deliveries).where(webhook_deliveries.c.webhook_id == hook["id"])
        ).all()
    assert left == []
    with pytest.raises(NotFound):
        webhooks.deliveries(any_rt, admin, hook["id"])


def test_only_admins_of_the_site_manage_webhooks(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin, stranger = new_site(any_rt), new_site(any_rt)
    hook = _hook(any_rt, admin)
    agent = Actor(site_id=admin.site_id, role="agent", user_id=str(uuid.uuid4()))
    with pytest.raises(Forbidden):
        webhooks.list_webhooks(any_rt, agent)
    with pytest.raises(NotFound):
        webhooks.rotate_secret(any_rt, stranger, hook["id"])


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"url": "https://h.example/x", "events": ["secure_form.nope"]}, {"events"}),
        ({"url": "https://h.example/x", "events": []}, {"events"}),
        ({"url": "https://h.example/x", "events": "secure_form.sent"}, {"events"}),
        ({"url": "https://h.example/x", "events": ["secure_form.sent"], "x": 1}, {"x"}),
        ({"events": ["secure_form.sent"]}, {"url"}),
    ],
)
def test_bad_fields_are_named(body: dict[str, object], named: set[str]) -> None:
    def check(url: object) -> str | None:
        return None if isinstance(url, str) else "Must be an https:// URL."

    with pytest.raises(ValidationFailed) as refused:
        webhooks.validated(body, check)
    assert set(refused.value.fields or {}) == named


def test_a_keyring_rotation_reseals_secrets_so_the_old_key_retires(
    own_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    rt = own_rt
    admin = new_site(rt)
    hook = _hook(rt, admin)
    rotated = webhooks.rotate_secret(rt, admin, hook["id"])  # both columns now hold one
    old = rt.keyring.primary("data").id
    assert webhooks.secrets_by_key(rt) == {old: 2}
    keys.rotate(rt, ("data",))
    report = keys.rewrap_and_retire(rt)
    assert report["resealed_webhook_secrets"] == 2 and old in report["retired"]
    assert webhooks.secrets_by_key(rt) == {rt.keyring.primary("data").id: 2}
    sender = Recorder()
    _emit(rt, admin, "after-rotation")
    outbox.run_group(rt, sender, hook["id"], "after-rotation")
    assert sender.calls[0][1] == [rotated["secret"], hook["secret"]]
    assert keys.rewrap_and_retire(rt)["resealed_webhook_secrets"] == 0


def test_old_delivered_events_are_forgotten_and_pending_ones_kept(
    any_rt: Runtime, new_site: Callable[..., Actor]
) -> None:
    admin = new_site(any_rt)
    hook = _hook(any_rt, admin)
    delivered, waiting = _emit(any_rt, admin, "old-a"), _emit(any_rt, admin, "old-b")
    assert outbox.run_group(any_rt, Recorder(), hook["id"], "old-a") == 1
    later = utcnow() + outbox.KEPT_FOR + timedelta(minutes=1)
    assert outbox.prune(any_rt, now=utcnow()) == 0  # nothing is old yet
    assert outbox.prune(any_rt, now=later) >= 1
    assert _event_ids(any_rt, admin) == {waiting} and delivered is not None
    assert webhooks.deliveries(any_rt, admin, hook["id"])["deliveries"] == []
