from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

import pytest
from support.stack import Stack

# support.outages is imported where it is used: it imports a test module, which pytest
# should import first, as it collects it.

# SQLite + Redis broker is the embedded default; PostgreSQL + RabbitMQ is production's shape.
COMBOS = [("sqlite", "redis"), ("postgres", "rabbitmq")]


@pytest.fixture(scope="session")
def _stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, str], Stack]]:
    """The session's running stacks, one per combination, made on first use and stopped
    at the end of the session. The `stack` fixture is torn down each time its parameter
    changes; under pytest-xdist that is in every test file (a worker runs a file's
    sqlite tests, then its postgres ones, then the next file's), and a stack is seconds of
    CPU to start: this keeps each running across the switches."""
    made: dict[tuple[str, str], Stack] = {}
    with contextlib.ExitStack() as running:

        def get(db: str, broker: str) -> Stack:
            if (db, broker) not in made:
                folder = tmp_path_factory.mktemp(f"stack-{db}-{broker}")
                made[db, broker] = running.enter_context(Stack.running(db, broker, folder))
            return made[db, broker]

        yield get


@pytest.fixture(scope="session", params=COMBOS, ids=[f"{d}-{b}" for d, b in COMBOS])
def stack(request: pytest.FixtureRequest, _stacks: Callable[[str, str], Stack]) -> Stack:
    db, broker = request.param
    return _stacks(db, broker)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _outage_rows(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test's outage rows ride on its teardown report: under pytest-xdist the test ran
    in a worker process, and only reports reach the process that prints the summary."""
    from support.outages import RESULTS

    before = len(RESULTS)
    yield
    for row in RESULTS[before:]:
        request.node.user_properties.append(("outage_row", dataclasses.asdict(row)))
