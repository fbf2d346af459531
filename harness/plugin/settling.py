"""Clean-up that finishes while the next test runs.

A test's fixtures take away at once what it made (its manifest files), but do not wait there
until the kubelet and the API server have finished removing it: those steps are queued here and
run after the next test, by when the kubelet has nearly always finished, so each wait costs one
look. The kubelet stops one test's pods while the next test runs, instead of every test waiting
for its own (2.5 s a test on the quick loop, measured).

Everything queued runs before the next test whenever that test could see the difference: a
disruptive one, or one on another cluster; and at the end of the run, before the clusters are
released (flush, from the provisioner fixture). A disruptive test cleans up at once. A step that
fails fails the teardown it runs in, and its message names the test whose clean-up it is. Steps
for a cluster that is gone (deleted on an interrupt) are dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from harness.cluster.cluster import Cluster
from harness.errors import run_each

QUEUE = pytest.StashKey[list["Queued"]]()


@dataclass(frozen=True, eq=False)
class Queued:
    nodeid: str  # the test whose clean-up this finishes
    cluster: Cluster
    step: Callable[[], None]


def finish(request: pytest.FixtureRequest, cluster: Cluster, steps: list[Callable[[], None]]) -> None:
    """`steps` finish this test's clean-up on `cluster`, in this order: run now after a disruptive
    test, else queued."""
    if request.node.get_closest_marker("disruptive") is None:
        queue = request.config.stash.setdefault(QUEUE, [])
        queue += [Queued(request.node.nodeid, cluster, step) for step in steps]
    elif not cluster.deleted:
        run_each(steps, "clean-up")


def settle(item: pytest.Item, *, keep_own: bool) -> None:
    """After `item`'s fixtures are torn down: run the queued steps, except `item`'s own when
    `keep_own` (the next test may run while they finish). Every step runs even when one fails."""
    queue = item.config.stash.get(QUEUE, [])
    kept = [q for q in queue if keep_own and q.nodeid == item.nodeid]
    item.config.stash[QUEUE] = kept
    _run([q for q in queue if q not in kept], item.nodeid)


def flush(config: pytest.Config) -> None:
    """Run everything queued (the end of the run)."""
    _run(config.stash.get(QUEUE, []), None)
    config.stash[QUEUE] = []


def _run(due: list[Queued], checked_in: str | None) -> None:
    run_each([_named(q, checked_in) for q in due if not q.cluster.deleted], "clean-up")


def _named(queued: Queued, checked_in: str | None) -> Callable[[], None]:
    """The step; its failure outside its own test's teardown says whose clean-up failed."""

    def step() -> None:
        try:
            queued.step()
        except Exception as error:
            if queued.nodeid == checked_in:
                raise
            raise AssertionError(f"the clean-up of {queued.nodeid}, run after it: {error}") from error

    return step
