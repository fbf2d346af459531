"""Clean-up that finishes while the next test runs.

A test's fixtures take away at once what it made (manifest files removed, namespaces deleted),
but do not wait there until the kubelet and the API server have finished removing it: those
waits are queued here and run after the next test, by when what they wait for has nearly always
happened, so each costs one look. The kubelet stops one test's pods while the next test runs,
instead of every test waiting for its own (2.5 s a test on the quick loop, measured).

Everything queued is waited for before the next test whenever that test could see the
difference: a disruptive one, one on another cluster, and at the end of the run (in an xdist
worker, whenever its queue of tests runs dry). A wait that fails fails the teardown it runs in,
with a note naming the test that queued it. Waits for a cluster that is gone (deleted on an
interrupt) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from harness.cluster.cluster import Cluster
from harness.errors import run_each

QUEUE = pytest.StashKey[list["Queued"]]()


@dataclass(frozen=True)
class Queued:
    nodeid: str  # the test whose clean-up this finishes
    cluster: Cluster
    check: Callable[[], None]


def defer(request: pytest.FixtureRequest, cluster: Cluster, checks: list[Callable[[], None]]) -> None:
    """Queue `checks` (waits) that finish this test's clean-up on `cluster`."""
    queue = request.config.stash.setdefault(QUEUE, [])
    queue += [Queued(request.node.nodeid, cluster, check) for check in checks]


def settle(item: pytest.Item, *, keep_own: bool) -> None:
    """After `item`'s fixtures are torn down: run the queued waits, except `item`'s own when
    `keep_own` (the next test may run while they finish). Every wait runs even when one fails."""
    queue = item.config.stash.get(QUEUE, [])
    due = [q for q in queue if not (keep_own and q.nodeid == item.nodeid)]
    item.config.stash[QUEUE] = [q for q in queue if q not in due]
    run_each([_noted(q, item.nodeid) for q in due if not q.cluster.deleted], "clean-up")


def _noted(queued: Queued, checked_in: str) -> Callable[[], None]:
    """The check; a failure in another test's teardown names the test whose clean-up it is."""

    def check() -> None:
        try:
            queued.check()
        except Exception as error:
            if queued.nodeid != checked_in:
                error.add_note(f"(the clean-up of {queued.nodeid}, finished after the next test)")
            raise

    return check
