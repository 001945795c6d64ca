"""The pages' own cookies: HttpOnly, SameSite=Strict, and over HTTPS Secure with the
__Host- prefix, which pins a cookie to this host (no subdomain can set or shadow it)."""

from __future__ import annotations

from starlette.responses import Response

from configs import Settings


def _https(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def name(settings: Settings, base: str) -> str:
    return f"__Host-{base}" if _https(settings) else base


def keep(response: Response, settings: Settings, base: str, value: str) -> None:
    response.set_cookie(
        name(settings, base),
        value,
        httponly=True,
        samesite="strict",
        secure=_https(settings),
        path="/",
    )


def drop(response: Response, settings: Settings, base: str) -> None:
    response.delete_cookie(name(settings, base), path="/")
