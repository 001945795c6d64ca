"""producers.group_commit with a publisher that records what it sends and can be held
(the broker's confirm taking its time) or made to refuse."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from producers import GroupCommit, PublishFailed


class _Submission:
    def __init__(self, n: int) -> None:
        self.submission_id = f"s{n}"


class HeldPublisher:
    """Each publish waits until released; `refuse` makes the next group fail."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self.release = threading.Event()
        self.publishing = threading.Event()
        self.calls = 0
        self.refuse_calls: set[int] = set()  # which publishes (0 = the first) are refused
        self.unsealable: set[str] = set()

    def seal(self, submission: Any) -> str:
        if submission.submission_id in self.unsealable:
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "lone surrogate")
        return f"sealed-{submission.submission_id}"

    def _publish(self, ids: list[str]) -> None:
        self.publishing.set()
        assert self.release.wait(10)
        call, self.calls = self.calls, self.calls + 1
        if call in self.refuse_calls:
            raise PublishFailed()
        self.sent.append(ids)

    def publish_sealed(self, submission_id: str, sealed: str) -> None:
        assert sealed == f"sealed-{submission_id}"
        self._publish([submission_id])

    def publish_group(self, group: list[tuple[str, str, str | None]]) -> None:
        assert all(sealed == f"sealed-{sid}" for sid, sealed, _ in group)
        self._publish([sid for sid, _, _ in group])


def _submit_all(commit: GroupCommit, ns: list[int]) -> dict[int, str]:
    def one(n: int) -> str:
        try:
            commit.publish_submission(_Submission(n))  # type: ignore[arg-type]
        except PublishFailed:
            return "refused"
        except UnicodeEncodeError:
            return "unsealable"
        return "accepted"

    with ThreadPoolExecutor(len(ns)) as pool:
        return dict(zip(ns, pool.map(one, ns), strict=True))


def _first_in_flight(commit: GroupCommit, publisher: HeldPublisher) -> threading.Thread:
    """s0 submitted, its publish waiting for the broker (until `publisher.release`)."""
    first = threading.Thread(target=commit.publish_submission, args=(_Submission(0),))
    first.start()
    assert publisher.publishing.wait(5)
    return first


def _release_when_queued(commit: GroupCommit, publisher: HeldPublisher, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(commit._waiting) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    publisher.release.set()


def test_alone_it_is_sent_at_once_as_a_single_message() -> None:
    publisher = HeldPublisher()
    publisher.release.set()
    commit = GroupCommit(publisher, max_group=50)  # type: ignore[arg-type]
    commit.publish_submission(_Submission(1))  # type: ignore[arg-type]
    commit.publish_submission(_Submission(2))  # type: ignore[arg-type]
    assert publisher.sent == [["s1"], ["s2"]]


def test_those_arriving_during_a_publish_go_out_together_each_confirmed_once() -> None:
    publisher = HeldPublisher()
    commit = GroupCommit(publisher, max_group=8)  # type: ignore[arg-type]
    first = _first_in_flight(commit, publisher)
    # 20 more arrive while the first waits for its confirm; then the broker answers.
    threading.Thread(target=_release_when_queued, args=(commit, publisher, 20)).start()
    outcomes = _submit_all(commit, list(range(1, 21)))
    first.join(5)
    assert set(outcomes.values()) == {"accepted"}
    assert publisher.sent[0] == ["s0"]
    sent = [sid for group in publisher.sent for sid in group]
    assert sorted(sent) == sorted(f"s{n}" for n in range(21))  # each once
    assert all(len(group) <= 8 for group in publisher.sent)
    assert len(publisher.sent) < 21  # grouped: 1 + 20 in groups of up to 8
    assert len(publisher.sent) == 4


def test_a_refused_group_refuses_its_own_submissions_only() -> None:
    publisher = HeldPublisher()
    publisher.refuse_calls = {1}  # the group after the first message
    commit = GroupCommit(publisher, max_group=50)  # type: ignore[arg-type]
    first = _first_in_flight(commit, publisher)
    threading.Timer(0.5, publisher.release.set).start()
    outcomes = _submit_all(commit, list(range(1, 6)))
    first.join(5)
    assert publisher.sent == [["s0"]]
    assert set(outcomes.values()) == {"refused"}
    # And the next submission goes out again: nothing is left stuck.
    commit.publish_submission(_Submission(9))  # type: ignore[arg-type]
    assert publisher.sent[-1] == ["s9"]


def test_a_submission_that_cannot_be_sealed_fails_alone() -> None:
    publisher = HeldPublisher()
    publisher.release.set()
    publisher.unsealable = {"s3"}
    commit = GroupCommit(publisher, max_group=50)  # type: ignore[arg-type]
    outcomes = _submit_all(commit, list(range(6)))
    assert outcomes.pop(3) == "unsealable"
    assert set(outcomes.values()) == {"accepted"}
    assert sorted(s for g in publisher.sent for s in g) == [f"s{n}" for n in (0, 1, 2, 4, 5)]


@pytest.mark.parametrize("max_group", [1, 3])
def test_groups_never_exceed_max_group(max_group: int) -> None:
    publisher = HeldPublisher()
    commit = GroupCommit(publisher, max_group=max_group)  # type: ignore[arg-type]
    first = _first_in_flight(commit, publisher)
    threading.Timer(0.3, publisher.release.set).start()
    outcomes = _submit_all(commit, list(range(1, 10)))
    first.join(5)
    assert set(outcomes.values()) == {"accepted"}
    assert max(len(g) for g in publisher.sent) <= max_group
    assert sorted(s for g in publisher.sent for s in g) == sorted(f"s{n}" for n in range(10))
