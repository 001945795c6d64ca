"""The second half of the api's fuzzing (test_fuzz.py says what and how), in a file of its
own so that the suite runs it beside the first half; on a stack of its own."""

from __future__ import annotations

import pytest
from integration.test_fuzz import Seeded, fuzz_shard, fuzz_stack, seeded

pytestmark = pytest.mark.timeout(600)

__all__ = ["fuzz_stack", "seeded"]  # the fixtures, module-scoped here too


def test_the_api_survives_fuzzing_second_half(seeded: Seeded) -> None:
    fuzz_shard(seeded, 1)
