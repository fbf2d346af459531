"""Parallel runs with pytest-xdist (`-n N`, `make e2e JOBS=N`): each worker on clusters of its own.

Why clusters of their own rather than a node each on one shared cluster: a disruptive test stops
a kubelet, a node's container runtime or the API server, and must never overlap another test on
that cluster. With a cluster per worker that holds by construction (a worker runs one test at a
time), with no locks and no serial phase, and every test sees exactly the cluster a serial run
gives it. A worker's clusters are named <name>-<worker>-<kind config> (options.py).

Tests of a kind config other than the run's own go to one worker together (an `xdist_group` per
kind config, which `--dist loadgroup` honours; -n turns it on), so that config's cluster is made
once per run, not once per worker; xdist sends groups first, so it is made while the other workers
make theirs. xdist appends the group to such a test's node id for its scheduler ("...@multi-node");
the reports carry the test's own node id, so junit.xml, claims and the conformance report name a
test the same in serial and parallel runs.

Ctrl-C reaches every worker from the terminal; a SIGTERM or SIGHUP reaches only the controller,
which would otherwise leave the workers' clusters behind: the controller passes it on to its
workers and waits (bounded) until each has deleted its clusters, before it ends the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from typing import Any

import pytest

from harness.interrupts import handle_interrupts, on_interrupt
from harness.waiting import scaled

XDIST = "xdist"
GROUP_MARK = "xdist_group"
# How long the controller waits for its workers to delete their clusters after a signal (seconds;
# scaled like every wait): a worker deletes at most two clusters, `kind delete` takes ~5 s each here.
WORKERS_CLEAN_UP_TIMEOUT = 120


def distributed(config: pytest.Config) -> bool:
    """This process is the controller of an xdist run (its workers run the tests)."""
    return config.pluginmanager.hasplugin(XDIST) and config.getoption("dist", "no") != "no"


def configure(config: pytest.Config) -> None:
    """On an xdist controller: refuse --reuse-cluster (one cluster cannot serve several workers), turn
    -n's plain load balancing into loadgroup (the same, plus our groups), pass signals on to workers.
    Another --dist mode stays as asked: each worker then makes every cluster it needs itself."""
    if not distributed(config):
        return
    reused = config.getoption("reuse_cluster")
    if reused:
        raise pytest.UsageError(
            f"--reuse-cluster {reused} is one cluster, and parallel workers each need clusters of "
            "their own: drop -n (JOBS) or --reuse-cluster"
        )
    if config.option.dist == "load":
        config.option.dist = "loadgroup"
    config.pluginmanager.register(Controller(), "static-pod-harness-parallel")


def group_by_kind_config(item: pytest.Item, kind_config: str) -> None:
    """Send `item` to the one worker that runs its kind config's tests."""
    item.add_marker(pytest.mark.xdist_group(kind_config))


def own_node_id(nodeid: str) -> str:
    """A test's node id without the group xdist appended for its scheduler (xdist's own rule: an "@"
    after the last "]" starts the group)."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") else nodeid


class Controller:
    """The xdist controller's part: pass a SIGTERM or SIGHUP on to the workers, wait for their clean-up."""

    def __init__(self) -> None:
        self.workers: dict[str, tuple[int, Any]] = {}  # worker id -> (pid, its xdist WorkerController)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        # execnet's remote info, cached by xdist before this hook, holds the worker's pid.
        self.workers[node.gateway.id] = (node.gateway._rinfo().pid, node)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        handle_interrupts()
        on_interrupt(self.stop_workers)

    def stop_workers(self) -> None:
        """Each worker's own handler deletes its clusters (as on Ctrl-C); wait until all have ended."""
        for pid, _ in self.workers.values():
            with contextlib.suppress(ProcessLookupError):  # ended already
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + scaled(WORKERS_CLEAN_UP_TIMEOUT)
        for worker_id, (_, node) in self.workers.items():
            channel = getattr(node, "channel", None)
            if channel is None:
                continue
            try:
                channel.waitclose(max(0.0, deadline - time.monotonic()))
            except Exception as exc:  # timed out, or the worker ended with an error: say so, go on
                print(f"[harness] worker {worker_id} did not end cleanly: {exc}", file=sys.stderr)
