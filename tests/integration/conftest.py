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
    with Stack.running(db, broker, tmp_path_factory.mktemp(f"stack-{db}-{broker}")) as s:
        yield s


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The outage table of tests/integration/test_outages.py, when its rows ran."""
    from support.outages import RESULTS, table

    if RESULTS:
        terminalreporter.section("outages: submits while one thing breaks")
        for line in table(RESULTS):
            terminalreporter.write_line(line)
