"""workers.beat's stop handler: a SIGTERM during beat's start-up stops it without
building a scheduler in the middle of the one being built; once built, the schedule is
saved as Celery's own handler does. (The whole process, stopped just after it says it is
starting, is tests/integration/test_logs.py's beat.)"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, beat, platforms

from workers.beat import StartupSafeBeat

Handler = Callable[[int, Any], None]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[beat.Service, Handler]:
    """A real beat service on a schedule file in tmp_path, and the handler the beat
    would install for SIGTERM (caught, not installed in the test process)."""
    app = Celery("beat-test", broker="memory://", set_as_current=False)
    service = beat.Service(app=app, schedule_filename=str(tmp_path / "schedule"))
    caught: dict[str, Handler] = {}
    monkeypatch.setattr(platforms.signals, "update", lambda **handlers: caught.update(handlers))
    StartupSafeBeat(app=app, quiet=True).install_sync_handler(service)
    assert caught["SIGTERM"] is caught["SIGINT"]
    return service, caught["SIGTERM"]


def test_stopped_before_its_scheduler_exists_beat_only_exits(
    installed: tuple[beat.Service, Handler], tmp_path: Path
) -> None:
    service, handler = installed
    with pytest.raises(SystemExit):
        handler(signal.SIGTERM, None)
    assert "scheduler" not in vars(service)
    assert list(tmp_path.iterdir()) == []  # no schedule opened by the handler


def test_stopped_once_running_beat_saves_its_schedule(
    installed: tuple[beat.Service, Handler], tmp_path: Path
) -> None:
    service, handler = installed
    assert service.scheduler is not None  # built, as service.start() does first
    with pytest.raises(SystemExit):
        handler(signal.SIGTERM, None)
    assert service._is_stopped.is_set()  # Service.sync ran: the schedule was closed
    assert list(tmp_path.iterdir())  # and it is on disk
