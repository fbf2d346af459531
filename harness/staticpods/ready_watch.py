"""A live watch of pods' Ready condition: every flip, time-stamped as seen.

The watch runs in a thread of its own from a first list until stopped, so a flip of Ready that
lasts a second is seen, not only what a poll happened to catch. The upgrade check follows the
mirrors across a kubelet swap with it; tests follow pods across a kubelet restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes.watch
from kubernetes import client as k8s

from harness.cluster.apiclient import new_api_client
from harness.waiting import is_transient

# Seconds one watch request lasts before it is renewed (the thread runs until stopped), and
# between a watch that ended with an error and the next list.
_WATCH_SECONDS = 5
_RETRY_SECONDS = 0.5
_HTTP_GONE = 410
# An API server the kubelet has just replaced serves before its authorizer synced, and denies:
# the watch lists again, and reports an error only if it is still denied when it stops.
_HTTP_FORBIDDEN = 403


@dataclass(frozen=True)
class ReadyTransition:
    time: datetime
    ready: bool
    reason: str  # the Ready condition's reason, e.g. ContainersNotReady; "" when it has none


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
        self._denied: str | None = None  # the last 403, until a list succeeds again
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
        self._denied = None
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
                if error.status == _HTTP_FORBIDDEN:
                    self._denied = f"{type(error).__name__}: {error.status} {error.reason}"
                elif error.status != _HTTP_GONE and not is_transient(error):
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
            if self._denied and not self.error:
                self.error = f"the Ready watch was still denied when it stopped: {self._denied}"
