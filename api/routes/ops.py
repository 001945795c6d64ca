"""Operations: liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, PlainTextResponse, Response

from api.endpoints import PUBLIC, Ctx
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


@registry.route("GET", "/metrics", auth=PUBLIC, tag="operations")
async def metrics(ctx: Ctx) -> Response:
    """Prometheus text: requests by route and status."""
    return PlainTextResponse(
        ctx.request.app.state.metrics.render(), media_type="text/plain; version=0.0.4"
    )


@registry.route("GET", "/openapi.json", auth=PUBLIC, tag="operations")
async def openapi(ctx: Ctx) -> Response:
    """This document."""
    return JSONResponse(openapi_document(registry))
