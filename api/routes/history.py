"""Endpoints added by a later issue (history)."""

from __future__ import annotations
