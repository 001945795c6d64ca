from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.stack import Stack

# SQLite + Redis broker is the embedded default; PostgreSQL + RabbitMQ is production's shape.
COMBOS = [("sqlite", "redis"), ("postgres", "rabbitmq")]


@pytest.fixture(scope="session", params=COMBOS, ids=[f"{d}-{b}" for d, b in COMBOS])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    db, broker = request.param
    s = Stack.build(db, broker, tmp_path_factory.mktemp(f"stack-{db}-{broker}"))
    try:
        s.start_api()
        s.start_worker()
        yield s
    finally:
        s.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
