"""Tasks are thin: they take ids and sealed events and call core and the vault.

Every task here is idempotent, runs with acks_late, and never returns or logs a value.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence

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


@app.task(name=TOKENIZE_TASK, base=_SubmissionBatches, bind=True, acks_late=True)  # type: ignore[untyped-decorator]
def tokenize_submissions(self: _SubmissionBatches, requests: list[SimpleRequest]) -> list[str]:
    """The submissions as they arrive, several in one transaction (core.submissions.
    accept_submissions); the ids of the messages done, which workers.batches acks.

    When the batch fails, each is tried on its own, so one bad message holds up none of
    the others; one that fails on its own goes to `tokenize_one` (its retries, its error
    path) and is done here once that message is published."""
    done: list[str] = []
    opened: list[tuple[SimpleRequest, Submission]] = []
    for request in requests:
        metrics.delivered(request)
        submission_id, sealed = request.args
        submission = _opened(self.rt, submission_id, sealed)
        if submission is None:
            done.append(request.id)
        else:
            opened.append((request, submission))
    if not opened:
        return done
    try:
        delivered = accept_submissions(self.rt, [s for _, s in opened])
    except Exception as exc:
        if _transient(exc):
            # The store is away: each would fail on its own too. Their retries wait for it.
            log.warning(
                "batch not stored; each to its retries",
                size=len(opened),
                error=exc.__class__.__name__,
            )
            handed = (_hand_on(request) for request, _ in opened)
        else:
            log.warning(
                "batch not stored; storing one at a time",
                size=len(opened),
                error=exc.__class__.__name__,
            )
            handed = (_alone(self.rt, request, s) for request, s in opened)
        return done + [request_id for request_id in handed if request_id is not None]
    for request, submission in opened:
        with _traced(request):
            _accepted(submission, submission.submission_id in delivered)
        done.append(request.id)
    return done


@contextlib.contextmanager
def _traced(request: SimpleRequest) -> Iterator[None]:
    """Lines about one message of a batch carry the id of the HTTP request that queued it,
    as a task's lines do (workers.app binds it per task; a batch is one task)."""
    bind_request_id(_request_id(request))
    try:
        yield
    finally:
        bind_request_id(None)


def _request_id(request: SimpleRequest) -> str | None:
    given = (request.request_dict or {}).get(REQUEST_ID_HEADER)
    return given if isinstance(given, str) else None


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, _TRANSIENT) or _read_only(exc)


def _alone(rt: Runtime, request: SimpleRequest, submission: Submission) -> str | None:
    """The request's id once it is stored on its own, or handed to `tokenize_one`."""
    with _traced(request):
        return _stored_alone(rt, request, submission)


def _stored_alone(rt: Runtime, request: SimpleRequest, submission: Submission) -> str | None:
    try:
        delivered = accept_submission(rt, submission)
    except Exception as exc:
        log.warning(
            "submission not stored; handed to its retries",
            submission_id=submission.submission_id,
            error=exc.__class__.__name__,
        )
        return _hand_on(request)
    _accepted(submission, delivered)
    return str(request.id)


def _hand_on(request: SimpleRequest) -> str | None:
    """The message again, for `tokenize_one`: its id once the broker has it (then this
    one is acked), None if the broker is gone too (then this one goes back to the queue).
    At least once either way: a worker lost between the two leaves both, and the second
    finds the first's work done."""
    try:
        request_id = _request_id(request)
        headers = {REQUEST_ID_HEADER: request_id} if request_id else None
        tokenize_one.apply_async(request.args, task_id=request.id, headers=headers)
    except Exception as exc:
        log.error(
            "submission left in the queue",
            submission_id=request.args[0],
            error=exc.__class__.__name__,
        )
        return None
    return str(request.id)


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
    log.info(
        "submission stored",
        submission_id=submission.submission_id,
        site_id=submission.site_id,
    )
    log.info("agent notified", submission_id=submission.submission_id, agent_id=submission.agent_id)


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
