"""Group commit for submits: one broker message for the submissions that arrive while the
previous message is being confirmed.

Each broker message costs the same whatever it carries (a publish and its confirm here;
a delivery, an ack and a task's bookkeeping in the worker: benchmarks/README.md, "the
floor"). A submit thread that finds no publish in flight publishes its submission at once,
as the api always did: an idle service waits for nothing. Threads that arrive meanwhile
queue up; when the publish is confirmed, the first of them publishes everything queued by
then (up to `max_group`) as one message and the others wait for that confirm. Each
visitor's 202 still comes only after the broker confirmed the message holding their
submission; a refused message refuses every submission in it (503, each visitor keeps
their key).

Written by hand: the leader/follower hand-over is a dozen lines around one lock, and the
ordering and failure rules above are the whole point.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from configs.logging import current_request_id
from producers.publisher import Publisher, PublishFailed
from vault import Submission

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Slot:
    submission_id: str
    sealed: str
    request_id: str | None
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    failed: bool = False


class GroupCommit:
    def __init__(self, publisher: Publisher, max_group: int) -> None:
        self._publisher = publisher
        self._max = max(1, max_group)
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._busy = False

    def publish_submission(self, submission: Submission) -> None:
        """Returns once the broker has a message holding `submission`; PublishFailed
        otherwise."""
        # Sealed here, in the submit's own thread: the work spreads over the threads, and
        # a submission that cannot be sealed fails alone.
        sealed = self._publisher.seal(submission)
        slot = _Slot(submission.submission_id, sealed, current_request_id())
        with self._lock:
            self._waiting.append(slot)
            lead = not self._busy
            self._busy = True
        while True:
            if lead:
                self._publish_next()
            slot.woken.wait()
            if slot.done:
                break
            # Woken not done: it is first in line and publishes the next group.
            slot.woken.clear()
            lead = True
        if slot.failed:
            raise PublishFailed()

    def _publish_next(self) -> None:
        with self._lock:
            group = self._waiting[: self._max]
            del self._waiting[: self._max]
        failed = True
        try:
            if len(group) == 1:
                self._publisher.publish_sealed(group[0].submission_id, group[0].sealed)
            else:
                self._publisher.publish_group(
                    [(s.submission_id, s.sealed, s.request_id) for s in group]
                )
            failed = False
        except Exception as exc:  # PublishFailed, or a bug: either way no visitor may hang
            if not isinstance(exc, PublishFailed):
                log.error("group not published: %s", exc.__class__.__name__)
        finally:
            # Whatever happened (a BaseException too), every waiter hears and the next
            # group gets a leader: nothing may be left waiting for a publish that is over.
            self._finish(group, failed)

    def _finish(self, group: list[_Slot], failed: bool) -> None:
        for slot in group:
            slot.failed, slot.done = failed, True
            slot.woken.set()
        with self._lock:
            if self._waiting:
                self._waiting[0].woken.set()  # the next leader
            else:
                self._busy = False
