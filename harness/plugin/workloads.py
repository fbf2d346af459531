"""The plugin's fixtures for what a test makes besides static pods: namespaces, DaemonSets,
directories on nodes, a reconfigured kubelet.

Each undoes what it did at teardown. pytest tears fixtures down in the reverse order of their
set-up, so a test that lists one of these before `static_pods` gets its static pods removed
first (while the namespace, the directory or the kubelet configuration still exist). Namespaces
are deleted after the static pods' own clean-up, while the next test runs (harness.plugin.settling).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from kubernetes import client as k8s

from harness.cluster.cluster import Cluster
from harness.node import Node
from harness.plugin import settling
from harness.staticpods.manifest import unique_name
from harness.waiting import watch_until

NAMESPACE_TIMEOUT = 120
DAEMONSET_TIMEOUT = 120
KUBELET_RESTART_TIMEOUT = 120


@dataclass
class Namespaces:
    """Namespaces made for one test, and deleted after it."""

    core: k8s.CoreV1Api
    created: list[str] = field(default_factory=list)

    def create(self, name: str | None = None) -> str:
        name = name or unique_name("static-ns")
        self.core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
        self.created.append(name)
        return name

    def deletions(self) -> list[Callable[[], None]]:
        """One step a namespace: delete it, and wait until the namespace controller has removed it."""
        return [lambda name=name: self._delete(name) for name in self.created]

    def _delete(self, name: str) -> None:
        self.core.delete_namespace(name)
        watch_until(
            self.core.list_namespace,
            lambda ns: ns is None,
            timeout=NAMESPACE_TIMEOUT,
            expected=f"namespace {name} deleted",
            field_selector=f"metadata.name={name}",
        )


@pytest.fixture
def test_namespaces(request: pytest.FixtureRequest, kind_cluster_ready: Cluster) -> Iterator[Namespaces]:
    """create(name=None): a namespace for this test (a fresh name by default); deleted after it: at
    once after a disruptive test, else while the next test runs (harness.plugin.settling)."""
    made = Namespaces(kind_cluster_ready.core)
    yield made
    settling.finish(request, kind_cluster_ready, made.deletions())


@dataclass
class DaemonSets:
    """DaemonSets of the test image in "default", made for one test and deleted with their pods."""

    core: k8s.CoreV1Api
    apps: k8s.AppsV1Api
    created: list[str] = field(default_factory=list)

    def create_ready(self, image: str) -> list[k8s.V1Pod]:
        """A new DaemonSet running `image`; returns its pods once one is ready on every node."""
        name, nodes = unique_name("daemonset"), len(self.core.list_node().items)
        self.apps.create_namespaced_daemon_set("default", _daemonset(name, image))
        self.created.append(name)
        watch_until(
            self.apps.list_namespaced_daemon_set,
            lambda ds: ds is not None and ds.status.number_ready == nodes,
            timeout=DAEMONSET_TIMEOUT,
            expected=f"DaemonSet {name} ready on every node",
            namespace="default",
            field_selector=f"metadata.name={name}",
        )
        return self.core.list_namespaced_pod("default", label_selector=f"app={name}").items

    def delete_all(self) -> None:
        """Delete every DaemonSet made here; wait until the garbage collector removed their pods."""
        for name in self.created:
            self.apps.delete_namespaced_daemon_set(name, "default")
            watch_until(
                self.core.list_namespaced_pod,
                lambda pod: pod is None,
                timeout=DAEMONSET_TIMEOUT,
                expected=f"the pods of DaemonSet {name} deleted",
                namespace="default",
                label_selector=f"app={name}",
            )
        self.created.clear()


def _daemonset(name: str, image: str) -> k8s.V1DaemonSet:
    labels = {"app": name}
    container = k8s.V1Container(name="app", image=image, image_pull_policy="Never", args=["serve"])
    pod_spec = k8s.V1PodSpec(
        containers=[container],
        automount_service_account_token=False,
        tolerations=[k8s.V1Toleration(operator="Exists")],
        termination_grace_period_seconds=5,
    )
    template = k8s.V1PodTemplateSpec(metadata=k8s.V1ObjectMeta(labels=labels), spec=pod_spec)
    spec = k8s.V1DaemonSetSpec(selector=k8s.V1LabelSelector(match_labels=labels), template=template)
    return k8s.V1DaemonSet(metadata=k8s.V1ObjectMeta(name=name), spec=spec)


@pytest.fixture
def test_daemonsets(kind_cluster_ready: Cluster) -> Iterator[DaemonSets]:
    """create_ready(image): a DaemonSet ready on every node; deleted, with its pods, after the test."""
    made = DaemonSets(kind_cluster_ready.core, kind_cluster_ready.apps)
    yield made
    if not kind_cluster_ready.deleted:
        made.delete_all()


@pytest.fixture
def node_dirs(kind_cluster_ready: Cluster) -> Iterator[Callable[[Node, str], str]]:
    """make(node, path): create a directory on a node (mkdir -p); it is removed, with its content, after."""
    made: list[tuple[Node, str]] = []

    def make(node: Node, path: str) -> str:
        node.makedirs(path)
        made.append((node, path))
        return path

    yield make
    for node, path in reversed(made):
        if not node.gone():
            node.run("rm", "-rf", "--", path)


@pytest.fixture
def kubelet_reconfigured(kind_cluster_ready: Cluster) -> Iterator[Callable[..., None]]:
    """reconfigure(node, **fields): restart the node's kubelet with its config file's fields changed
    (None removes one); the original file is put back and the kubelet restarted after the test."""
    with ExitStack() as stack:

        def reconfigure(node: Node, **changes: Any) -> None:
            stack.enter_context(node.kubelet.reconfigured(changes, KUBELET_RESTART_TIMEOUT))

        yield reconfigure
