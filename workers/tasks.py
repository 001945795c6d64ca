"""Tasks are thin: they take ids and sealed events and call core and the vault.

Every task here is idempotent, runs with acks_late, and never returns or logs a value.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import structlog
from celery import Task
from celery_batches import SimpleRequest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

from configs.celery import (
    NOOP_TASK,
    PURGE_TASK,
    REWRAP_TASK,
    SWEEP_TASK,
    TOKENIZE_GROUP_TASK,
    TOKENIZE_ONE_TASK,
    TOKENIZE_TASK,
    WEBHOOK_TASK,
)
from configs.logging import REQUEST_ID_HEADER, bind_request_id
from connectors import chatwoot as chatwoot_connector
from connectors import webhooks as webhook_connector
from core import chatwoot, form_requests, outbox
from core.keys import rewrap_and_retire
from core.locks import HeldLock, claim_slot
from core.retention import PurgeBusy, run_purge
from core.runtime import Runtime
from core.submissions import accept_submission, accept_submissions
from producers import open_event
from vault import Submission, VaultError
from workers import metrics
from workers.app import app, settings
from workers.batches import AckedBatches

log = structlog.get_logger(__name__)


class StoreReadOnly(Exception):
    """A database refused a write because it is read-only for now (a standby, or
    `default_transaction_read_only`): retried like a lost connection, not failed for good."""


_TRANSIENT = (OperationalError, RedisConnectionError, RedisTimeoutError, StoreReadOnly)
# SQLSTATE 25006: read_only_sql_transaction (psycopg raises it as an InternalError).
_READ_ONLY_SQLSTATE = "25006"


class TokenizeFailed(Exception):
    """A submission could not be stored; the message names the cause's class only."""


def _read_only(exc: BaseException) -> bool:
    return (
        isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == _READ_ONLY_SQLSTATE
    )


class RuntimeTask(Task):  # type: ignore[misc]
    """Owns one Runtime per worker process, built lazily after the fork."""

    _runtime: Runtime | None = None
    _pid: int | None = None
    _lock = threading.Lock()

    @property
    def rt(self) -> Runtime:
        with self._lock:
            if RuntimeTask._runtime is None or RuntimeTask._pid != os.getpid():
                RuntimeTask._runtime = Runtime.from_settings(settings)
                RuntimeTask._pid = os.getpid()
            return RuntimeTask._runtime


@app.task(  # type: ignore[untyped-decorator]
    name=TOKENIZE_ONE_TASK,
    base=RuntimeTask,
    bind=True,
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=20,
)
def tokenize_one(self: RuntimeTask, submission_id: str, sealed: str) -> None:
    """One submission on its own: a batch's that failed with the others hands it here,
    to its retries and its failure."""
    metrics.delivered(self.request)
    submission = _opened(self.rt, submission_id, sealed)
    if submission is None:
        return
    try:
        delivered = accept_submission(self.rt, submission)
    except _TRANSIENT:
        raise  # retried with backoff; these carry no value
    except DBAPIError as exc:
        if _read_only(exc):
            raise StoreReadOnly() from None
        raise TokenizeFailed(exc.__class__.__name__) from None
    except Exception as exc:
        # Celery logs an exception's repr, and some (UnicodeEncodeError, say) quote their
        # input: only the class name leaves this task.
        raise TokenizeFailed(exc.__class__.__name__) from None
    _accepted(submission, delivered)


class _SubmissionBatches(AckedBatches, RuntimeTask):  # type: ignore[misc]
    flush_every = settings.worker_batch_size
    flush_interval = settings.worker_batch_wait_ms / 1000


@dataclass(frozen=True)
class _Entry:
    """One submission of a message: a message carries one, or a group (producers.
    group_commit)."""

    message_id: str
    submission_id: str
    sealed: str
    request_id: str | None  # of the HTTP request that queued it, for its log lines


def _entries(request: SimpleRequest) -> list[_Entry]:
    if request.name == TOKENIZE_GROUP_TASK:
        [group] = request.args
        return [_Entry(request.id, sid, sealed, rid) for sid, sealed, rid in group]
    submission_id, sealed = request.args
    given = (request.request_dict or {}).get(REQUEST_ID_HEADER)
    return [_Entry(request.id, submission_id, sealed, given if isinstance(given, str) else None)]


def _store_messages(rt: Runtime, requests: list[SimpleRequest]) -> list[str]:
    """The submissions of these messages, several in one transaction (core.submissions.
    accept_submissions); the ids of the messages done, which workers.batches acks.

    When the batch fails, each is tried on its own, so one bad submission holds up none
    of the others; one that fails on its own goes to `tokenize_one` (its retries, its
    error path) and is done here once that message is published. A message is done when
    every submission in it is."""
    opened: list[tuple[_Entry, Submission]] = []
    left: set[str] = set()  # messages with a submission neither stored nor handed on
    seen: dict[str, Submission] = {}
    copies: list[_Entry] = []
    for request in requests:
        metrics.delivered(request)
        try:
            entries = _entries(request)
        except (TypeError, ValueError):
            # Not a shape this worker knows (a newer api's?): back in the queue it would
            # come round for ever; logged without its content, and done with.
            log.error("submission message not understood", message_id=request.id)
            metrics.FAILED.labels("unreadable").inc()
            continue
        for entry in entries:
            if entry.submission_id in seen:
                # Another copy of one already in this batch (a redelivery that met its
                # original): once is enough, and the batch must not hold one id twice.
                copies.append(entry)
                continue
            submission = _opened(rt, entry.submission_id, entry.sealed)
            if submission is not None:
                seen[entry.submission_id] = submission
                opened.append((entry, submission))
    if opened:
        metrics.BATCH_SIZE.observe(len(opened))
    try:
        delivered = accept_submissions(rt, [s for _, s in opened]) if opened else set()
    except Exception as exc:
        if _transient(exc):
            # The store is away: each would fail on its own too. Their retries wait for it.
            log.warning("batch not stored; each to its retries", size=len(opened), error=_name(exc))
            for entry, _ in opened:
                if not _hand_on(entry):
                    left.add(entry.message_id)
        else:
            log.warning(
                "batch not stored; storing one at a time", size=len(opened), error=_name(exc)
            )
            for entry, submission in opened:
                if not _alone(rt, entry, submission):
                    left.add(entry.message_id)
    else:
        for entry, submission in opened:
            with _traced(entry):
                _accepted(submission, submission.submission_id in delivered)
    # A copy's message is done either way: if its original was not, that one goes back.
    retried = {e.submission_id for e, _ in opened if e.message_id in left}
    for entry in copies:
        if entry.submission_id not in retried:
            with _traced(entry):
                _accepted(seen[entry.submission_id], False)
    return [request.id for request in requests if request.id not in left]


@app.task(name=TOKENIZE_TASK, base=_SubmissionBatches, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def tokenize_submissions(self: _SubmissionBatches, requests: list[SimpleRequest]) -> list[str]:
    """Messages of one submission each, as the api sends them one at a time."""
    return _store_messages(self.rt, requests)


@app.task(name=TOKENIZE_GROUP_TASK, base=_SubmissionBatches, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def tokenize_groups(self: _SubmissionBatches, requests: list[SimpleRequest]) -> list[str]:
    """Messages of several submissions each, sent together by the api's group commit."""
    return _store_messages(self.rt, requests)


def _name(exc: BaseException) -> str:
    return exc.__class__.__name__


@contextlib.contextmanager
def _traced(entry: _Entry) -> Iterator[None]:
    """Lines about one submission of a batch carry the id of the HTTP request that queued
    it, as a task's lines do (workers.app binds it per task; a batch is one task)."""
    bind_request_id(entry.request_id)
    try:
        yield
    finally:
        bind_request_id(None)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT) or _read_only(exc)


def _alone(rt: Runtime, entry: _Entry, submission: Submission) -> bool:
    """Stored on its own, or handed to `tokenize_one`: False if neither."""
    with _traced(entry):
        try:
            delivered = accept_submission(rt, submission)
        except Exception as exc:
            log.warning(
                "submission not stored; handed to its retries",
                submission_id=entry.submission_id,
                error=_name(exc),
            )
            return _hand_on(entry)
        _accepted(submission, delivered)
        return True


def _hand_on(entry: _Entry) -> bool:
    """The submission again, for `tokenize_one`: True once the broker has it (then its
    message may be acked), False if the broker is gone too (then its message goes back to
    the queue). At least once either way: a worker lost between the two leaves both, and
    the second finds the first's work done."""
    headers = {REQUEST_ID_HEADER: entry.request_id} if entry.request_id else None
    try:
        tokenize_one.apply_async(
            (entry.submission_id, entry.sealed), task_id=entry.submission_id, headers=headers
        )
    except Exception as exc:
        log.error(
            "submission left in the queue", submission_id=entry.submission_id, error=_name(exc)
        )
        return False
    return True


def _opened(rt: Runtime, submission_id: str, sealed: str) -> Submission | None:
    try:
        return open_event(rt.keyring, submission_id, sealed)
    except VaultError:
        # Retrying cannot help a message that does not open; say so without its content.
        log.error(
            "submission event does not open (tampered or foreign key)",
            submission_id=submission_id,
        )
        metrics.FAILED.labels("unreadable").inc()
        return None


def _accepted(submission: Submission, delivered: bool) -> None:
    if not delivered:
        metrics.DUPLICATES.inc()
        log.info("submission already done", submission_id=submission.submission_id)
        return
    metrics.stored(submission.submitted_at)
    # One line for both steps (they are one step of accept_submissions): at a few hundred
    # submissions a second, a second line cost the worker a tenth of its CPU.
    log.info(
        "submission stored, agent notified",
        submission_id=submission.submission_id,
        site_id=submission.site_id,
        agent_id=submission.agent_id,
    )


@app.task(name=NOOP_TASK, base=RuntimeTask, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def noop(self: RuntimeTask, marker: str) -> None:
    self.rt.redis.incr(f"sf:bench:{marker}")


@app.task(name=SWEEP_TASK, base=RuntimeTask, bind=True)  # type: ignore[untyped-decorator]
def sweep_expired_requests(self: RuntimeTask) -> None:
    if not claim_slot(self.rt, "sweep", settings.sweep_interval_s):
        return
    count = form_requests.sweep_expired(self.rt)
    if count:
        log.info("form requests marked expired", count=count)


@app.task(name=PURGE_TASK, base=RuntimeTask, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def retention_purge(self: RuntimeTask) -> None:
    # One purge per interval however many beats sent it; a purge still running from the
    # last interval makes this one a no-op too (its batches resume next time).
    if not claim_slot(self.rt, "retention-purge", settings.purge_interval_s):
        return
    try:
        report = run_purge(self.rt)
    except PurgeBusy:
        log.info("retention purge already running elsewhere")
        return
    metrics.PURGED.inc(report["deleted"])
    metrics.SHREDDED.inc(len(report["data_keys_destroyed"]))
    log.info(
        "retention purge done",
        submissions_deleted=report["deleted"],
        month_keys_shredded=len(report["data_keys_destroyed"]),
    )


@app.task(name=REWRAP_TASK, base=RuntimeTask, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def rewrap_data_keys(self: RuntimeTask) -> None:
    with HeldLock(self.rt, "rewrap", 3600) as lock:
        if not lock.acquired:
            return
        report = rewrap_and_retire(self.rt)
    metrics.REWRAPPED.inc(report["rewrapped"])
    if report["rewrapped"] or report["retired"] or report["resealed_totp_secrets"]:
        log.info(
            "data keys re-wrapped",
            rewrapped=report["rewrapped"],
            resealed_totp_secrets=report["resealed_totp_secrets"],
            retired=report["retired"],
        )


_WEBHOOK_POLICY = webhook_connector.Policy(
    production=settings.is_production, own_url=settings.public_url
)


def _sender(rt: Runtime) -> outbox.Sender:
    """What the outbox sends through: a site's webhook, or a message for its Chatwoot
    (whose row holds Chatwoot's base URL, and its API token as the secret)."""

    def send(
        url: str, body: bytes, *, event_id: str, event_type: str, secrets: Sequence[str]
    ) -> webhook_connector.Attempt:
        if event_type != chatwoot.MESSAGE_EVENT:
            return webhook_connector.post(
                _WEBHOOK_POLICY,
                url,
                body,
                event_id=event_id,
                event_type=event_type,
                secrets=secrets,
            )
        try:
            message = chatwoot.message_of(rt, body)
        except VaultError:
            return webhook_connector.Attempt(None, "the message does not open")
        return chatwoot_connector.post_message(
            _WEBHOOK_POLICY,
            url,
            secrets[0],
            account_id=message.account_id,
            conversation=message.conversation_id,
            content=message.content,
            private=message.private,
        )

    return send


@app.task(name=WEBHOOK_TASK, base=RuntimeTask, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def deliver_webhooks(self: RuntimeTask) -> None:
    # Beat sends this every webhook_poll_interval_s; two beats by mistake send one.
    if not claim_slot(self.rt, "deliver-webhooks", settings.webhook_poll_interval_s):
        return
    sent = outbox.drain(self.rt, _sender(self.rt))
    if sent:
        log.info("delivered %d webhook events", sent)
    if claim_slot(self.rt, "prune-webhooks", 3600):
        pruned = outbox.prune(self.rt)
        if pruned:
            log.info("forgot %d webhook deliveries older than 30 days", pruned)
