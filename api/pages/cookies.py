"""The pages' own cookies: HttpOnly, SameSite=Strict, and over HTTPS Secure with the
__Host- prefix, which pins a cookie to this host (no subdomain can set or shadow it).

The agent's panel lives in a chat console's iframe, a third-party context where a
SameSite=Strict cookie is never sent: its cookies (`framed`) are SameSite=None, Secure
and Partitioned (CHIPS), so the browser keeps them for that console's site alone and
sends them nowhere else. Browsers accept Secure only over https, or on loopback."""

from __future__ import annotations

from starlette.responses import Response

from configs import Settings


def _https(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def name(settings: Settings, base: str) -> str:
    return f"__Host-{base}" if _https(settings) else base


def keep(
    response: Response, settings: Settings, base: str, value: str, *, framed: bool = False
) -> None:
    response.set_cookie(
        name(settings, base),
        value,
        httponly=True,
        samesite="none" if framed else "strict",
        secure=framed or _https(settings),
        path="/",
    )
    if framed:
        _partition(response)


def drop(response: Response, settings: Settings, base: str, *, framed: bool = False) -> None:
    # A partitioned cookie is only replaced by one with the same attributes.
    response.delete_cookie(
        name(settings, base),
        path="/",
        secure=framed or _https(settings),
        samesite="none" if framed else "lax",
        httponly=framed,
    )
    if framed:
        _partition(response)


def _partition(response: Response) -> None:
    """Mark the cookie just set Partitioned. By hand: Starlette writes the attribute
    through http.cookies, which knows it only from Python 3.14 on (it raises before)."""
    header, cookie = response.raw_headers[-1]
    assert header == b"set-cookie"
    response.raw_headers[-1] = (header, cookie + b"; Partitioned")
