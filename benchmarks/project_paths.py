"""Puts the project root and tests/ on sys.path, so a benchmark imports the product and
`tests/support` the way the tests do. Import it before either."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
