"""What the upgrade check sees of static pods: snapshots from both sides, and Ready watched live.

A snapshot reads each mirror pod (UID, config.hash, phase, container statuses) and crictl on
the node (sandboxes, container attempts). The Ready watch follows the mirrors through an API
watch in a thread of its own from before the swap until the pods settled, so a flip of Ready
that lasts a second is seen, not only what a poll happened to catch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes.watch
from kubernetes import client as k8s

from harness.cluster.apiclient import new_api_client
from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION
from harness.staticpods.pods import StaticPod
from harness.upgrade.records import ContainerKind, ContainerRecord, PodRecord, ReadyTransition
from harness.waiting import is_transient

# Seconds one watch request lasts before it is renewed (the thread runs until stopped), and
# between a watch that ended with an error and the next list.
_WATCH_SECONDS = 5
_RETRY_SECONDS = 0.5
_HTTP_GONE = 410


def snapshot(pod: StaticPod) -> PodRecord | None:
    """The pod now: mirror identity and status, sandboxes and container attempts from crictl;
    None when it has no mirror."""
    mirror = pod.mirror()
    if mirror is None:
        return None
    attempts = {c.id: c.attempt for c in pod.containers()}
    kinds = _container_kinds(mirror)
    statuses = (mirror.status.init_container_statuses or []) + (mirror.status.container_statuses or [])
    return PodRecord(
        namespace=pod.namespace,
        mirror_name=pod.mirror_name,
        mirror_uid=mirror.metadata.uid,
        config_hash=(mirror.metadata.annotations or {}).get(CONFIG_HASH_ANNOTATION, ""),
        phase=mirror.status.phase or "",
        sandbox_ids=_sandboxes(pod),
        containers=tuple(_container(status, kinds[status.name], attempts) for status in statuses),
    )


def _sandboxes(pod: StaticPod) -> tuple[str, ...]:
    return tuple(s.id for s in pod.node.crictl.pods(name=pod.mirror_name, namespace=pod.namespace))


def _container_kinds(mirror: k8s.V1Pod) -> dict[str, ContainerKind]:
    kinds: dict[str, ContainerKind] = {c.name: "container" for c in mirror.spec.containers}
    for init in mirror.spec.init_containers or []:
        kinds[init.name] = "sidecar" if init.restart_policy == "Always" else "init"
    return kinds


def _container(
    status: k8s.V1ContainerStatus, kind: ContainerKind, attempts: dict[str, int]
) -> ContainerRecord:
    container_id = (status.container_id or "").split("://")[-1]
    state = status.state
    running, terminated = state.running if state else None, state.terminated if state else None
    started = running.started_at if running else terminated.started_at if terminated else None
    return ContainerRecord(
        name=status.name,
        kind=kind,
        container_id=container_id,
        attempt=attempts.get(container_id, 0),
        restart_count=status.restart_count or 0,
        started_at=started,
        state="running" if running else "terminated" if terminated else "waiting",
    )


def ready_of(pod: k8s.V1Pod) -> tuple[bool, str]:
    condition = next((c for c in pod.status.conditions or [] if c.type == "Ready"), None)
    return (
        condition is not None and condition.status == "True",
        (condition.reason or "") if condition else "",
    )


class ReadyWatch:
    """Ready transitions of the mirrors a label selects, per namespace/name, time-stamped as seen.

    A deleted mirror counts as not Ready from the moment it goes (a pod recreated under a new
    config.hash is gone until its new mirror is Ready). The first list is made before the swap
    starts; a watch that ends (its timeout, 410 Gone, a dropped connection) lists and watches
    again, and what the watch saw is complete unless `error` says why it is not.
    """

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        label_selector: str,
        state: Callable[[k8s.V1Pod], tuple[bool, str]] = ready_of,
    ) -> None:
        """`state(pod)` is what counts as Ready, with why: by default the pod's Ready condition."""
        self.core = k8s.CoreV1Api(new_api_client(kubeconfig))
        self.namespace, self.label_selector, self.state = namespace, label_selector, state
        self.transitions: dict[str, list[ReadyTransition]] = {}
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ready-watch", daemon=True)

    def _see(self, key: str, ready: bool, reason: str) -> None:
        seen = self.transitions.setdefault(key, [])
        if not seen or seen[-1].ready != ready:
            seen.append(ReadyTransition(datetime.now(UTC), ready, reason))

    def _see_pod(self, pod: Any, deleted: bool = False) -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        self._see(key, *((False, "MirrorDeleted") if deleted else self.state(pod)))

    def _list(self) -> str:
        listed = self.core.list_namespaced_pod(self.namespace, label_selector=self.label_selector)
        for pod in listed.items:
            self._see_pod(pod)
        present = {f"{pod.metadata.namespace}/{pod.metadata.name}" for pod in listed.items}
        for key in self.transitions.keys() - present:  # deleted while no watch was open
            self._see(key, False, "MirrorDeleted")
        return listed.metadata.resource_version

    def _run(self) -> None:
        version = None
        while not self._stop.is_set():
            try:
                version = version or self._list()
                for event in kubernetes.watch.Watch().stream(
                    self.core.list_namespaced_pod,
                    self.namespace,
                    label_selector=self.label_selector,
                    resource_version=version,
                    timeout_seconds=_WATCH_SECONDS,
                ):
                    version = event["object"].metadata.resource_version
                    self._see_pod(event["object"], deleted=event["type"] == "DELETED")
                    if self._stop.is_set():
                        return
            except k8s.ApiException as error:
                if error.status != _HTTP_GONE and not is_transient(error):
                    self.error = (
                        f"the Ready watch stopped: {type(error).__name__}: {error.status} {error.reason}"
                    )
                    return
                version = None  # list again: what changed meanwhile is seen in the list
            except Exception as error:
                if not is_transient(error):
                    self.error = f"the Ready watch stopped: {type(error).__name__}: {error}"
                    return
                version = None
            self._stop.wait(_RETRY_SECONDS)

    @contextmanager
    def running(self) -> Iterator[ReadyWatch]:
        """The watch, from a first list made before the body runs, until the body ends."""
        self._list()
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=_WATCH_SECONDS + 5)
