"""Endpoints added by a later issue (admin)."""

from __future__ import annotations
