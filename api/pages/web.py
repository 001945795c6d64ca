"""What every page handler needs: form bodies, rate limits, and errors shown as pages."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from api import i18n
from api.bodies import read_body
from api.errors import STORE_UNAVAILABLE, ApiError
from api.i18n import gettext_
from api.pages.render import error_page
from api.ratelimit import client_address
from api.services import Services
from core import audit
from core.errors import DomainError, Unavailable

log = logging.getLogger("api.pages")

MAX_FORM_FIELDS = 200
Handler = Callable[[Request], Awaitable[Response]]


class BadForm(Exception):
    """The posted body is not a form we can read."""


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


async def read_form(request: Request, max_fields: int = MAX_FORM_FIELDS) -> dict[str, str]:
    """An urlencoded form body, size-limited like every other body; the last of a repeated
    name wins (every control of our pages has a name of its own)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await read_body(request, services(request).settings.max_body_bytes)
    if not raw:
        return {}  # an empty form: its missing CSRF token is what gets reported
    if kind != "application/x-www-form-urlencoded":
        raise BadForm()
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=max_fields,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm() from None
    return dict(pairs)


async def rate_limit(request: Request, kind: str = "otk") -> None:
    await services(request).limiter.check(kind, client_address(request))


def forbidden_page(request: Request) -> Response:
    """The refused page (CSRF), in the language the page is speaking (api.i18n.speaking):
    the visitor's on the visitor's pages, English on the console's."""
    return error_page(
        request,
        403,
        gettext_("This page has expired"),
        gettext_(
            "We could not confirm that this form came from this page, so nothing was sent "
            "and nothing was used up."
        ),
        advice=gettext_("Go back, reload the page and try again."),
        language=i18n.current(),
    )


def page(handler: Handler) -> Handler:
    """Turn whatever goes wrong into a page; nothing a visitor typed is ever repeated."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        # Whatever core audits while answering names this client as the origin, as the
        # JSON API's calls do (run_in_threadpool copies the context).
        audit.current_origin.set(client_address(request))
        try:
            return await handler(request)
        except BadForm:
            return error_page(request, 400, "Something went wrong", "We could not read the form.")
        except ApiError as exc:
            if exc.status == 429:
                return error_page(
                    request,
                    429,
                    "Too many attempts",
                    "Please wait a minute, then try again.",
                )
            return error_page(request, exc.status, "Something went wrong", exc.message)
        except DomainError as exc:
            return error_page(request, exc.status, "Something went wrong", exc.message)
        except STORE_UNAVAILABLE as exc:
            # Redis or a database did not answer: the visitor tries again (their key kept).
            log.warning("store unavailable (%s) on page %s", exc.__class__.__name__, request.method)
            return error_page(request, 503, "Please try again", Unavailable.default_message)
        except Exception as exc:
            # The message may quote input: only the class is logged.
            log.error("unhandled %s on page %s", exc.__class__.__name__, request.method)
            return error_page(
                request, 500, "Something went wrong", "Something went wrong on our side."
            )

    return wrapped
