"""What the api put on the broker's queue, taken off it as a worker would be handed it."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from configs.celery import QUEUE
from support.flow import Desk, card_values
from support.inprocess import Api


def queued_tasks(api: Api) -> list[tuple[str, list[Any]]]:
    """Take every message off the broker's queue: (task name, args), oldest first."""
    taken = []
    with redis.Redis.from_url(api.settings.broker_url) as r:
        while (raw := r.rpop(QUEUE)) is not None:
            message = json.loads(raw)
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            taken.append((message["headers"]["task"], args))
    return taken


def submit(desk: Desk, **values: str) -> tuple[str, str, str]:
    """A visitor submits the desk's form; answers (request id, submission id, sealed)."""
    sent = desk.send()
    r = desk.submit(desk.open(sent), card_values(**values))
    assert r.status_code == 202, r.text
    [(name, args)] = queued_tasks(desk.stack)  # type: ignore[arg-type]
    assert name.endswith("tokenize_submission"), name
    submission_id, sealed = args
    return sent.request_id, submission_id, sealed
