"""Every endpoint registers itself on `registry` when its module is imported."""

from __future__ import annotations

from api.endpoints import Registry

registry = Registry()


def load_all() -> Registry:
    from api.routes import (  # noqa: F401
        admin,
        api_keys,
        branding,
        chat,
        conversations,
        events,
        forms,
        history,
        identity,
        integrations,
        lifecycle,
        ops,
        pages,
        payments,
        secure_forms,
        visitor,
        webhooks,
    )

    return registry
