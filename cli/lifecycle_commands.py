"""`secureforms purge`, `erase` and `keys rotate` (the lifecycle issue fills this in)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, keys: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add this module's commands to the `secureforms` parser."""
