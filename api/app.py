"""The app factory: `create_app(settings)` builds the whole HTTP service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from api.errors import (
    STORE_UNAVAILABLE,
    domain_error_handler,
    http_error_handler,
    store_unavailable_handler,
    unexpected_error_handler,
)
from api.metrics import process_exited, scrape_registry
from api.middleware import AccessLog, SecurityHeaders
from api.request_id import RequestId
from api.routes import load_all
from api.routes.pages import page_routes
from api.services import Services
from configs import Settings, load_settings
from core.errors import DomainError


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or load_settings()
    services = services or Services.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await services.aclose()
        process_exited()

    app = Starlette(
        routes=[*load_all().routes(), *page_routes()],
        middleware=[
            Middleware(RequestId),  # outermost: every line of the request carries its id
            Middleware(SecurityHeaders),
            Middleware(AccessLog),
        ],
        exception_handlers={
            DomainError: domain_error_handler,
            HTTPException: http_error_handler,
            **dict.fromkeys(STORE_UNAVAILABLE, store_unavailable_handler),
            Exception: unexpected_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.metrics = scrape_registry(settings)
    return app
