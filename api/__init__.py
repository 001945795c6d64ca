"""The HTTP face: JSON API v1, pages and operations endpoints, built by `create_app`."""

from __future__ import annotations

from api.app import create_app

__all__ = ["create_app"]
