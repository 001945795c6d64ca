"""Settings for the whole suite."""

from typing import Any

import pytest
from hypothesis import settings

# Hypothesis's default 200 ms deadline per example is a timed assertion: on a busy 2-core
# machine the masking and redaction properties missed it with nothing wrong. Speed is
# measured by benchmarks/ (benchmarks/patterns.py for these), never asserted here.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")


# scripts/test.sh hands test files to two processes in collection order
# (--no-loadscope-reorder): the longest files go first, so that the run does not end with
# one process working through a two-minute file while the other waits. Seconds a file
# takes in a full run, roughly: fuzz 130, no-loss 200, outages 150, webhooks 90, the
# Redis broker kills 65, the browser's console and workspace about 60 each.
LONG_FIRST = (
    "integration/test_no_loss.py",
    "integration/test_outages.py",
    "integration/test_fuzz.py",
    "integration/test_webhooks.py",
    "integration/test_redis_broker_kills.py",
    "browser/test_admin_console.py",
    "browser/test_agent_workspace.py",
    "integration/test_chat_masking.py",
    "integration/test_cross_site.py",
)


def _rank(item: pytest.Item) -> int:
    path = item.path.as_posix()
    return next((i for i, name in enumerate(LONG_FIRST) if path.endswith(name)), len(LONG_FIRST))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: every file keeps its own order


# The outage table (tests/integration/test_outages.py): its rows arrive on teardown
# reports (tests/integration/conftest.py). These hooks live here because under xdist the
# printing process collects nothing, so it never loads tests/integration/conftest.py.
_REPORTED: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        _REPORTED.extend(v for k, v in report.user_properties if k == "outage_row")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The outage table of tests/integration/test_outages.py, when its rows ran."""
    from support.outages import Row, table

    if _REPORTED:
        terminalreporter.section("outages: submits while one thing breaks")
        for line in table([Row(**row) for row in _REPORTED]):
            terminalreporter.write_line(line)
