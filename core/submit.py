"""The visitor's submit, as one use case: check the answers, spend the submit key, hand
the submission to the queue, and give the key back if the queue did not take it.

The JSON API and the no-JavaScript page both call `submit_answers`; each only turns its
errors into its own kind of answer. The queue is handed in (`Publish`): core never
imports producers, the api composes its publisher into one.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import and_, bindparam, select

from core.clock import utcnow
from core.conversations import ACTIVE
from core.errors import InvalidOrExpired, NotFound, Unavailable, ValidationFailed
from core.form_requests import OPENED, link_group, peek_otk, redeem_otk
from core.forms.catalogue import load_version
from core.forms.fields import SubmissionInvalid, validate_values
from core.health import vault_writable
from core.policies import SitePolicies
from core.runtime import Runtime
from core.schema import conversations, form_requests, sites
from vault import OtkClaims, Submission

__all__ = ["Publish", "Submission", "submit_answers"]


class Publish(Protocol):
    """Hands a submission to the queue.

    True only once the broker confirmed it has the message; False when it refused (then
    nothing was queued). A bool and not an exception, so that `producers.Publisher`'s own
    method (which raises) cannot be passed here by mistake: the api wraps it.
    """

    def __call__(self, submission: Submission, /) -> bool: ...


# A submission's request row with its conversation's status and its site's policies: one
# query instead of three (LEFT JOINs, so a missing conversation or site still reads as
# such). Built once: SQLAlchemy spends more CPU building a statement than SQLite running it.
_SUBMIT_CONTEXT = (
    select(
        form_requests,
        conversations.c.status.label("conversation_status"),
        sites.c.policies.label("site_policies"),
    )
    .select_from(
        form_requests.outerjoin(
            conversations,
            and_(
                conversations.c.id == form_requests.c.conversation_id,
                conversations.c.site_id == form_requests.c.site_id,
            ),
        ).outerjoin(sites, sites.c.id == form_requests.c.site_id)
    )
    .where(
        form_requests.c.id == bindparam("b_request_id"),
        form_requests.c.site_id == bindparam("b_site_id"),
    )
)
_POLICIES: dict[str, SitePolicies] = {}  # parsed policies by their exact stored text


def submit_answers(rt: Runtime, publish: Publish, otk: str, values: dict[str, Any]) -> None:
    """Returns once the queue has the submission (the visitor may hear "submitted").

    InvalidOrExpired: the key is spent, expired or foreign, or the form is not open.
    ValidationFailed: answers need fixing; the key was not spent.
    Unavailable: the queue refused, or the vault takes no writes (nothing was spent); the
    same key submits again.
    """
    if not vault_writable(rt):
        raise Unavailable()
    submission, claims = _prepare(rt, otk, values)
    if not publish(submission):
        rt.otks.restore(otk, claims)
        raise Unavailable()
    # Answered: the link opens no more, however many opens the site allows.
    rt.otks.revoke_group(link_group(submission.request_id))


def _prepare(rt: Runtime, otk: str, values: dict[str, Any]) -> tuple[Submission, OtkClaims]:
    """Validate, then spend the submit key. Validation failures leave the key usable."""
    claims = peek_otk(rt, otk, "submit")
    with rt.app_engine.connect() as conn:
        row = conn.execute(
            _SUBMIT_CONTEXT, {"b_request_id": claims.subject, "b_site_id": claims.site_id}
        ).first()
    if row is None:
        raise NotFound("No such secure form request on this site.")
    if row.status != OPENED or row.conversation_status != ACTIVE:
        raise InvalidOrExpired()
    definition = load_version(rt, row.site_id, row.form_id, row.form_version)
    try:
        clean = validate_values(definition.fields, values)
    except SubmissionInvalid as exc:
        raise ValidationFailed("Some answers need fixing.", fields=exc.errors) from None
    claims = redeem_otk(rt, otk, "submit", site_id=claims.site_id, subject=claims.subject)
    policies = _policies(row.site_policies)
    off_names = definition.off_record_names
    submission = Submission(
        submission_id=str(claims.data["submission_id"]),
        request_id=row.id,
        site_id=row.site_id,
        conversation_id=row.conversation_id,
        agent_id=row.agent_id,
        form_id=row.form_id,
        form_version=row.form_version,
        form_title=definition.title,
        values={k: v for k, v in clean.items() if k not in off_names},
        off_record={k: v for k, v in clean.items() if k in off_names},
        off_record_ttl_ms=policies.off_record_ttl_s * 1000,
        retention_days=policies.retention_days,
        submitted_at=utcnow(),
    )
    return submission, claims


def _policies(raw: str | None) -> SitePolicies:
    if raw is None:
        raise NotFound()
    parsed = _POLICIES.get(raw)
    if parsed is None:
        if len(_POLICIES) >= 256:
            _POLICIES.clear()
        parsed = _POLICIES[raw] = SitePolicies.loads(raw)
    return parsed
