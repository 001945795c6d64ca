"""The scheduler process: Celery's beat, stoppable at any moment of its start.

Celery's beat saves its schedule on SIGTERM/SIGINT by asking the service for its
scheduler, which the service builds on first use. A signal that lands while the main
thread is still building it (opening the schedule file, importing the broker's modules)
made the handler build a second one in the middle of those imports: it died on a
half-imported module and printed a raw traceback, the one non-JSON output the process
could write. A supervisor stops beat whenever it likes, start-up included, so the
handler here saves only a scheduler that exists; there is nothing to save before.
"""

from __future__ import annotations

from types import FrameType

from celery import Celery, beat, platforms
from celery.apps.beat import Beat


class StartupSafeBeat(Beat):  # type: ignore[misc]  # Celery ships no types
    def install_sync_handler(self, service: beat.Service) -> None:
        def _stop(_signum: int, _frame: FrameType | None) -> None:
            # `scheduler` is a cached_property: in __dict__ only once it is fully built.
            if "scheduler" in vars(service):
                service.sync()
            raise SystemExit()

        platforms.signals.update(SIGTERM=_stop, SIGINT=_stop)


def run_beat(app: Celery, *, schedule: str, loglevel: str, quiet: bool) -> None:
    """What `celery beat --schedule … --loglevel …` does, with the safe stop above."""
    StartupSafeBeat(app=app, schedule=schedule, loglevel=loglevel, quiet=quiet).run()
