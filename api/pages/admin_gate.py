"""Who gets into the console: admins and managers, each section to those it names.

Core trusts its callers with roles (the JSON API checks them at the edge), so the console
checks them here, before any core call, and audits a refusal as the API does. A handler
gets the sign-in, the section's check, CSRF and a thread to block in from `console_get`
or `console_post` (built on api.pages.session.signed_in_page), under `@page` (which turns
whatever goes wrong into a page):

    @page
    @console_post(ADMIN)
    def save_it(request: Request, rt: Runtime, actor: Actor, posted: Posted) -> Response:
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from api.auth import refused
from api.pages.admin_kit import console_page, may_use, valid_id
from api.pages.session import Posted, signed_in_page
from api.pages.web import Handler
from core.actors import CONSOLE_ROLES, Actor
from core.runtime import Runtime

ANY_CONSOLE_USER = None  # a `need` every admin and manager meets
# The form editor posts about a dozen inputs per field, and a form may have 50 fields.
MAX_POSTED_FIELDS = 1000

View = Callable[[Request, Runtime, Actor], Response]
PostView = Callable[[Request, Runtime, Actor, Posted], Response]

__all__ = ["ANY_CONSOLE_USER", "Posted", "console_get", "console_post"]


def _section(need: str | None) -> Callable[[Request, Runtime, Actor], Response | None]:
    """The console user may use this section, or the page saying what it needs."""

    def check(request: Request, rt: Runtime, actor: Actor) -> Response | None:
        if need is None or may_use(actor, need):
            return None
        refused(rt, actor, f"{request.method} {request.url.path}")
        return console_page(
            request, rt, actor, "admin_denied.html", status_code=403, section="", need=need
        )

    return check


def console_get(need: str | None) -> Callable[[View], Handler]:
    """A console page for the users the section lets in; the view runs in the thread pool."""

    def decorate(view: View) -> Handler:
        def with_nothing_posted(r: Request, rt: Runtime, a: Actor, _: Posted) -> Response:
            return view(r, rt, a)

        return _console(
            view, signed_in_page(CONSOLE_ROLES, check=_section(need))(with_nothing_posted)
        )

    return decorate


def console_post(need: str) -> Callable[[PostView], Handler]:
    """A console form post: read, the section's check, the session's CSRF token, then the
    view in the thread pool with what was posted."""

    def decorate(view: PostView) -> Handler:
        checked = signed_in_page(
            CONSOLE_ROLES, posts=True, max_fields=MAX_POSTED_FIELDS, check=_section(need)
        )
        return _console(view, checked(view))

    return decorate


def _console(view: Callable[..., Response], checked: Handler) -> Handler:
    @functools.wraps(view)
    async def handler(request: Request) -> Response:
        # A path id that names nothing is a 404 before the session or the body is read.
        for value in request.path_params.values():
            valid_id(value)
        return await checked(request)

    return handler
