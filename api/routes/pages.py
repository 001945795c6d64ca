"""Endpoints added by a later issue (pages)."""

from __future__ import annotations
