"""Endpoints added by a later issue (chat)."""

from __future__ import annotations
