"""Who gets into the console, and the shell every console handler shares.

Core trusts its callers with roles (the JSON API checks them at the edge), so the console
checks them here, before any core call, and audits a refusal as the API does. A handler
gets that check, and a thread to block in, from `console_get` or `console_post`, under
`@page` (which turns whatever goes wrong into a page):

    @page
    @console_post(ADMIN)
    def save_it(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.pages.admin_kit import console_page, may_use, valid_id
from api.pages.session import csrf_ok, signed_in
from api.pages.web import Handler, forbidden_page, read_form, services
from core import audit
from core.actors import Actor
from core.runtime import Runtime

CONSOLE_ROLES = frozenset({"admin", "manager"})
ANY_CONSOLE_USER = None  # a `need` every admin and manager meets
# The form editor posts about a dozen inputs per field, and a form may have 50 fields.
MAX_POSTED_FIELDS = 1000

Posted = dict[str, str]
View = Callable[[Request, Runtime, Actor], Response]
PostView = Callable[[Request, Runtime, Actor, Posted], Response]


def gate(request: Request, rt: Runtime, need: str | None) -> Actor | Response:
    """The signed-in console user if they may use this section, else the page instead."""
    found = signed_in(request, rt, services(request).settings, roles=CONSOLE_ROLES)
    if isinstance(found, Response):
        return found
    if need is None or may_use(found, need):
        return found
    audit.record(
        rt,
        site_id=found.site_id,
        type="access.denied",
        outcome=audit.FAILURE,
        user_id=found.user_id,
        resource=f"{request.method} {request.url.path}"[:200],
    )
    return console_page(
        request,
        rt,
        found,
        "admin_denied.html",
        status_code=403,
        section="",
        need=need,
    )


def posting_gate(
    request: Request, rt: Runtime, need: str | None, posted: Mapping[str, str]
) -> Actor | Response:
    """`gate` for a form post, which must also carry the session's CSRF token."""
    found = gate(request, rt, need)
    if isinstance(found, Response):
        return found
    if not csrf_ok(rt, found, posted.get("csrf")):
        return forbidden_page(request)
    return found


async def read_posted(request: Request) -> Posted:
    """A console form: the forms editor posts about a dozen controls a field."""
    return await read_form(request, MAX_POSTED_FIELDS)


def console_get(need: str | None) -> Callable[[View], Handler]:
    """A console page for the users `gate` lets in; the view runs in the thread pool."""

    def decorate(view: View) -> Handler:
        return _handler(view, need, posts=False, call=lambda r, rt, a, _: view(r, rt, a))

    return decorate


def console_post(need: str) -> Callable[[PostView], Handler]:
    """A console form post: read, then `posting_gate` (CSRF too), then the view in the
    thread pool with what was posted."""

    def decorate(view: PostView) -> Handler:
        return _handler(view, need, posts=True, call=view)

    return decorate


def _handler(
    view: Callable[..., Response], need: str | None, *, posts: bool, call: PostView
) -> Handler:
    @functools.wraps(view)
    async def handler(request: Request) -> Response:
        # A path id that names nothing is a 404 before the session or the body is read.
        for value in request.path_params.values():
            valid_id(value)
        rt = services(request).rt
        posted = await read_posted(request) if posts else {}

        def work() -> Response:
            # Stores and Argon2 block: off the event loop.
            actor = posting_gate(request, rt, need, posted) if posts else gate(request, rt, need)
            return actor if isinstance(actor, Response) else call(request, rt, actor, posted)

        return await run_in_threadpool(work)

    return handler
