"""Operations: liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from api.endpoints import PUBLIC, Ctx
from api.errors import ApiError
from api.openapi import openapi_document
from api.routes import registry
from core.health import check_stores


@registry.route("GET", "/healthz", auth=PUBLIC, tag="operations")
def healthz(ctx: Ctx) -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@registry.route("GET", "/readyz", auth=PUBLIC, tag="operations", responses={503: "not_ready"})
async def readyz(ctx: Ctx) -> Response:
    """Both DBs, Redis and the broker answer."""
    checks = await run_in_threadpool(check_stores, ctx.rt)
    checks["broker"] = await run_in_threadpool(ctx.services.publisher.ping)
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


@registry.route(
    "GET", "/metrics", auth=PUBLIC, tag="operations", responses={401: "unauthenticated"}
)
async def metrics(ctx: Ctx) -> Response:
    """Prometheus text (prometheus-client): requests, submits, rate limits, OTKs, queue.

    Not here at all when the metrics have a listen address of their own; behind the
    metrics bearer token when one is set."""
    settings = ctx.services.settings
    if settings.metrics_listen is not None:
        raise ApiError(404, "not_found", "No such endpoint.")
    if not settings.metrics_authorized(ctx.request.headers.get("authorization")):
        raise ApiError(
            401,
            "unauthenticated",
            "Metrics need the metrics bearer token.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    registry = ctx.request.app.state.metrics
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


@registry.route("GET", "/openapi.json", auth=PUBLIC, tag="operations")
async def openapi(ctx: Ctx) -> Response:
    """This document."""
    return JSONResponse(openapi_document(registry))
