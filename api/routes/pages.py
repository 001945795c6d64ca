"""Page routes (HTML, outside the JSON registry) and the visitor form's field check."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api import i18n
from api.bodies import field
from api.endpoints import PUBLIC, Ctx
from api.errors import ApiError
from api.pages import account, admin, agent, brand, embed, signin, visitor_chat, visitor_form
from api.pages.render import STATIC
from api.routes import registry
from api.routes.visitor import visitor_api_language
from core import chat

MAX_CHECKED = 50


def page_routes() -> list[BaseRoute]:
    return [
        Route("/f/{otk}", visitor_form.link, methods=["GET"]),
        Route("/f/{otk}", visitor_form.open_link, methods=["POST"]),
        Route("/form/submit", visitor_form.submit, methods=["POST"]),
        Route("/form/done", visitor_form.done, methods=["GET"]),
        Route("/brand/{site_id}/{name}", brand.asset, methods=["GET"]),
        Route("/login", signin.login_page, methods=["GET"]),
        Route("/login", signin.login, methods=["POST"]),
        Route("/logout", signin.logout, methods=["POST"]),
        *agent.routes(),
        *embed.routes(),
        *admin.routes(),
        *account.routes(),
        Route("/chat", visitor_chat.window, methods=["GET"]),
        Route("/chat/start", visitor_chat.start, methods=["POST"]),
        Route("/chat/messages", visitor_chat.say, methods=["POST"]),
        Route("/chat/leave", visitor_chat.leave, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


@registry.route(
    "POST",
    "/api/v1/visitor/check",
    auth=PUBLIC,
    rate="otk",
    tag="visitor",
    body={
        "otk": field(str, required=True, max_length=128),
        "values": field(dict, required=True),
        "fields": field(list, required=True),
        "language": field(str, max_length=16),
    },
    responses={410: "invalid_or_expired"},
)
def check(ctx: Ctx) -> dict[str, Any]:
    """Check some answers as the visitor leaves each field; stores and spends nothing."""
    names = ctx.body["fields"]
    if len(names) > MAX_CHECKED or not all(isinstance(n, str) for n in names):
        raise ApiError(
            422,
            "invalid_body",
            "fields must be a list of field names.",
            fields={"fields": f"Up to {MAX_CHECKED} names."},
        )
    with i18n.speaking(visitor_api_language(ctx)):
        found = chat.check_answers(ctx.rt, ctx.body["otk"], ctx.body["values"], names)
    return {"fields": found}
