"""Parallel runs with pytest-xdist (`-n N`, `make e2e JOBS=N`): each worker on clusters of its own.

Why clusters of their own rather than a node each on one shared cluster: a disruptive test stops
a kubelet, a node's container runtime or the API server, and must never overlap another test on
that cluster. With a cluster per worker that holds by construction (a worker runs one test at a
time), with no locks and no serial phase, and every test sees exactly the cluster a serial run
gives it. A worker's clusters are named <name>-<worker>-<kind config> (options.py).

Tests of a kind config other than the run's own go to one worker together, so that config's
cluster is made once per run, not once per worker, and first, while the other workers make theirs:
with -n's load balancing (--dist load) the controller schedules with KindConfigScheduling, xdist's
scope scheduler whose scopes are "one kind config" for those tests and "one test" for the others.
(xdist's own loadgroup cannot do it with pytest 9: it renames node ids through an attribute that
pytest 9 no longer reads.) The controller collects nothing, so the workers, which all collect the
same tests, write each test's group to a file it names; it reads that when it schedules, which is
after every worker has collected. They also write the properties each collected test carries from
collection (its claims), so that the controller's report knows the claims of a test that a worker
collected but never ran (--maxfail, a crashed or stopped worker), and calls them inconclusive.
Another --dist mode stays as asked: each worker then makes every cluster it needs itself.

kind's docker network is shared by every worker's clusters: a worker never removes it (another may
be creating a cluster on it); the controller removes it at the end when it did not exist before
the run and no cluster runs on it.

Ctrl-C reaches every worker from the terminal; a SIGTERM or SIGHUP reaches only the controller,
which would otherwise leave the workers' clusters behind: the controller passes it on to its
workers and waits (bounded) until each has deleted its clusters, before it ends the run. Signals
and kind's network are taken over only once the workers have collected tests that use clusters:
another team's suite run under xdist with this plugin installed sees no change.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from xdist.scheduler import LoadScopeScheduling

from harness.cluster.lifecycle import kind_network_exists, remove_kind_network
from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.interrupts import handle_interrupts, on_interrupt
from harness.plugin.options import REUSE_CLUSTER, option_value
from harness.waiting import scaled

XDIST = "xdist"
CONTROLLER = "static-pod-harness-parallel"  # the Controller's plugin name
# The workerinput key naming the file where workers write the tests' groups (node id -> group).
GROUPS_FILE = "static_pod_harness_groups"
# The workerinput key naming the file where workers write each collected test's properties.
COLLECTED_FILE = "static_pod_harness_collected"
# How long the controller waits for its workers to delete their clusters after a signal (seconds;
# scaled like every wait): a worker deletes at most two clusters, `kind delete` takes ~5 s each here.
WORKERS_CLEAN_UP_TIMEOUT = 120


def distributed(config: pytest.Config) -> bool:
    """This process is the controller of an xdist run (its workers run the tests)."""
    return config.pluginmanager.hasplugin(XDIST) and config.getoption("dist", "no") != "no"


def configure(config: pytest.Config) -> None:
    """On an xdist controller: refuse --sph-reuse-cluster (one cluster cannot serve several workers), and
    take over scheduling and signals (Controller)."""
    if not distributed(config):
        return
    reused = option_value(config, REUSE_CLUSTER)
    if reused:
        raise pytest.UsageError(
            f"{REUSE_CLUSTER.flag} {reused} is one cluster, and parallel workers each need clusters of "
            f"their own: drop -n (JOBS) or {REUSE_CLUSTER.flag}"
        )
    config.pluginmanager.register(Controller(config), CONTROLLER)


def write_groups(config: pytest.Config, groups: dict[str, str]) -> None:
    """On a worker whose tests use clusters: the group (kind config) of each test that has one, for
    the controller's scheduler (the file's existence also tells the controller that the run uses
    clusters)."""
    _write_for_controller(config, GROUPS_FILE, groups)


def write_collected(config: pytest.Config, properties: dict[str, list[tuple[str, object]]]) -> None:
    """On a worker: the properties each collected test has from collection (node id -> properties)."""
    _write_for_controller(config, COLLECTED_FILE, properties)


def collected_properties(config: pytest.Config) -> dict[str, list[tuple[str, object]]]:
    """On a controller: what its workers wrote with write_collected (empty if none did)."""
    controller = config.pluginmanager.get_plugin(CONTROLLER)
    path = controller.collected_file if controller is not None else None
    if path is None or not path.exists():
        return {}
    written = json.loads(path.read_text())
    return {nodeid: [(str(name), value) for name, value in props] for nodeid, props in written.items()}


def _write_for_controller(config: pytest.Config, key: str, data: object) -> None:
    """Every worker collects the same tests, so each writes the same file (atomically)."""
    path = getattr(config, "workerinput", {}).get(key)
    if path is None:  # not a worker of a controller with this plugin
        return
    partial = Path(f"{path}.{os.getpid()}")
    partial.write_text(json.dumps(data, default=str))
    partial.replace(path)


class KindConfigScheduling(LoadScopeScheduling):
    """xdist's scope scheduling, whose scope is a test's group if it has one, else the test itself.
    Scopes go out in the workers' collection order, where the groups come first (the plugin's
    pytest_collection_modifyitems); newer xdist releases (3.8 here) also sort them largest first."""

    def __init__(self, config: pytest.Config, log: Any, groups_file: Path) -> None:
        super().__init__(config, log)
        self.groups_file = groups_file
        self.groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self.groups is None:  # first asked in schedule(), once every worker has collected
            self.groups = json.loads(self.groups_file.read_text()) if self.groups_file.exists() else {}
        return self.groups.get(nodeid, nodeid)


def _kind_network_exists() -> bool | None:
    """None when Docker does not answer (then no worker makes a cluster either)."""
    try:
        return kind_network_exists(docker_client())
    except (HarnessError, docker.errors.DockerException):
        return None


class Controller:
    """The xdist controller's part: scheduling by kind config, and passing a SIGTERM or SIGHUP on
    to the workers, then waiting for their clean-up."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.directory = Path(tempfile.mkdtemp(prefix="static-pod-harness-xdist-"))
        self.workers: dict[str, tuple[int, Any]] = {}  # worker id -> (pid, its xdist WorkerController)
        self.groups_file = self.directory / "groups.json"
        self.collected_file = self.directory / "collected.json"
        self.uses_clusters = False  # set once the workers have collected tests that use clusters
        self.network_existed: bool | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[GROUPS_FILE] = str(self.groups_file)
        node.workerinput[COLLECTED_FILE] = str(self.collected_file)
        # execnet's remote info, cached by xdist before this hook, holds the worker's pid.
        self.workers[node.gateway.id] = (node.gateway._rinfo().pid, node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        self.workers.pop(node.gateway.id, None)  # ended: its pid is not ours to signal any more

    @pytest.hookimpl(optionalhook=True, tryfirst=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> LoadScopeScheduling | None:
        if config.getoption("dist") != "load":  # what -n alone turns on; another mode stays as asked
            return None
        return KindConfigScheduling(config, log, self.groups_file)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The first worker has collected, before any test runs: only if its tests use clusters (it
        wrote the groups file) does this run take over signals and kind's network. A suite that
        does not use the plugin's clusters runs under xdist as it would without the plugin."""
        if self.uses_clusters or not self.groups_file.exists():
            return
        self.uses_clusters = True
        self.network_existed = _kind_network_exists()
        handle_interrupts()
        on_interrupt(self.stop_workers)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        if self.network_existed is False:
            with contextlib.suppress(HarnessError, docker.errors.DockerException):
                remove_kind_network(docker_client())

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
