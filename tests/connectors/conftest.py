from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.localstripe import LocalStripe, running_localstripe


@pytest.fixture(scope="module")
def localstripe() -> Iterator[LocalStripe]:
    with running_localstripe() as s:
        yield s
