"""Static pods placed on nodes, and what the kubelet and the API server make of them.

A StaticPod is one manifest file in one node's staticPodPath. Its questions are
answered from both sides: the node (crictl: is a container of this pod running?) and
the API server (the mirror pod `<name>-<node>`). Waits on the mirror use API watches;
waits on the node poll crictl, since the kubelet has no event stream for them.
StaticPods places them for one test and removes them all afterwards, waiting until the
kubelet has really stopped them, so that the next test starts clean.
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubernetes import client as k8s
from urllib3.exceptions import HTTPError

from harness.cluster.cluster import Cluster
from harness.errors import HarnessError
from harness.node import ContainerStatus, Node, NodeCommandError
from harness.staticpods.manifest import DEFAULT_NAMESPACE, Manifest, mirror_pod_name, unique_name
from harness.waiting import hold_for, poll_until, watch_until

# Timeouts (seconds; harness.waiting scales them). The kubelet re-lists its
# manifest directory every fileCheckFrequency (20 s) besides reacting to inotify;
# upstream's node e2e tests allow two minutes for mirror pod changes. A force-deleted
# mirror comes back only at a later periodic sync (measured here: ~90 s on 1.34), so
# mirror waits get three minutes.
MIRROR_TIMEOUT = 180
NODE_TIMEOUT = 120
# How much longer than one fileCheckFrequency a "the kubelet did not run it" window lasts, so
# that at least one full re-list of the manifest path falls inside it.
RELIST_MARGIN = 5
# Once the kubelet has logged why it refused a file, this short hold shows it runs nothing from it.
REFUSED_WINDOW = 5
# A pod worker re-syncs its pod every syncFrequency plus up to half of it again as jitter
# (pod_workers.go workerResyncIntervalJitterFactor 0.5): the longest gap between two periodic syncs.
LONGEST_RESYNC = 1.5


@dataclass
class StaticPod:
    """One manifest on one node: `path` is where the kubelet reads it."""

    node: Node
    path: str
    manifest: Manifest
    core: k8s.CoreV1Api

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def namespace(self) -> str:
        """The kubelet puts a static pod without a namespace into "default"."""
        return self.manifest.namespace or DEFAULT_NAMESPACE

    @property
    def mirror_name(self) -> str:
        return mirror_pod_name(self.name, self.node.name)

    # --- the manifest file -------------------------------------------------------------
    def rewrite(self, manifest: Manifest) -> StaticPod:
        """Replace the file's content (atomically) with `manifest`."""
        self.node.file(self.path).write_bytes(manifest.render_for(self.path))
        self.manifest = manifest
        return self

    def remove_file(self) -> None:
        self.node.file(self.path).remove(missing_ok=True)

    # --- the API side: the mirror pod -------------------------------------------------
    def mirror(self) -> k8s.V1Pod | None:
        try:
            return self.core.read_namespaced_pod(self.mirror_name, self.namespace)
        except k8s.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def wait_for_mirror(
        self, condition: Callable[[k8s.V1Pod], bool] = lambda p: True, expected: str = "present"
    ) -> k8s.V1Pod:
        return watch_until(
            self.core.list_namespaced_pod,
            lambda pod: pod is not None and condition(pod),
            timeout=MIRROR_TIMEOUT,
            expected=f"mirror pod {self.namespace}/{self.mirror_name} {expected}",
            describe=lambda _: self.describe(),
            namespace=self.namespace,
            field_selector=f"metadata.name={self.mirror_name}",
        )

    def wait_for_running_mirror(self) -> k8s.V1Pod:
        return self.wait_for_mirror(
            lambda p: p.status.phase == "Running" and containers_ready(p), "Running and Ready"
        )

    def wait_up(self) -> tuple[k8s.V1Pod, ContainerStatus]:
        """The mirror Running and Ready, and the pod's (first) container running on the node."""
        return self.wait_for_running_mirror(), self.wait_running()

    def wait_for_new_mirror(self, old_uid: str) -> k8s.V1Pod:
        return self.wait_for_mirror(lambda p: p.metadata.uid != old_uid, f"with a UID other than {old_uid}")

    def wait_for_mirror_gone(self) -> None:
        watch_until(
            self.core.list_namespaced_pod,
            lambda pod: pod is None,
            timeout=MIRROR_TIMEOUT,
            expected=f"mirror pod {self.namespace}/{self.mirror_name} deleted",
            namespace=self.namespace,
            field_selector=f"metadata.name={self.mirror_name}",
        )

    # --- the node side: what the container runtime runs ---------------------------------
    def containers(self) -> list[ContainerStatus]:
        """This pod's containers on the node, newest first (crictl ps -a)."""
        found = self.node.crictl.containers(
            all=True,
            label={"io.kubernetes.pod.name": self.mirror_name, "io.kubernetes.pod.namespace": self.namespace},
        )
        return sorted(found, key=lambda c: c.created_at, reverse=True)

    def running_container(self, name: str | None = None) -> ContainerStatus | None:
        wanted = name or self.manifest.container_names[0]
        return next(
            (c for c in self.containers() if c.name == wanted and c.state == "CONTAINER_RUNNING"), None
        )

    def wait_running(
        self, name: str | None = None, other_than: ContainerStatus | None = None
    ) -> ContainerStatus:
        """The running container `name` (default: the first), optionally a new one."""

        def probe() -> ContainerStatus | None:
            running = self.running_container(name)
            return running if running and (other_than is None or running.id != other_than.id) else None

        expected = f"a running container of {self.mirror_name} on {self.node.name}"
        return poll_until(
            probe,
            timeout=NODE_TIMEOUT,
            expected=expected + (f" other than {other_than.id[:13]}" if other_than else ""),
            describe=self.describe,
            retry_on=(NodeCommandError,),  # crictl itself can fail while the runtime is busy
        )

    def wait_mirror_agrees(self) -> ContainerStatus:
        """Wait until the mirror reports Running and Ready with the container crictl shows running
        in a ready sandbox (a container left in a sandbox the runtime lost is about to be replaced).

        Polls both sides; an API server or a runtime that does not answer yet (both may be
        restarting) counts as "not yet". Returns the running container.
        """

        def probe() -> ContainerStatus | None:
            running, mirror = self.running_container(), self.mirror()
            if not (running and mirror and mirror.status.phase == "Running" and containers_ready(mirror)):
                return None
            sandboxes = self.node.crictl.pods(name=self.mirror_name, namespace=self.namespace, state="ready")
            if running.pod_sandbox_id not in {s.id for s in sandboxes}:
                return None
            reported = [s.container_id or "" for s in mirror.status.container_statuses]
            return running if any(r.endswith(running.id) for r in reported) else None

        return poll_until(
            probe,
            timeout=MIRROR_TIMEOUT,
            expected=f"mirror pod {self.namespace}/{self.mirror_name} Running, Ready, naming that container",
            describe=self.describe,
            retry_on=(k8s.ApiException, HTTPError, NodeCommandError),
        )

    def wait_containers_gone(self) -> None:
        poll_until(
            lambda: not any(c.state == "CONTAINER_RUNNING" for c in self.containers()),
            timeout=NODE_TIMEOUT,
            expected=f"no running container of {self.mirror_name} on {self.node.name}",
            describe=self.describe,
            retry_on=(NodeCommandError,),
        )

    def wait_containers_removed(self) -> None:
        """Not even an exited container of this pod is left in the runtime (crictl ps -a)."""
        poll_until(
            lambda: not self.containers(),
            timeout=NODE_TIMEOUT,
            expected=f"every container of {self.mirror_name} removed from {self.node.name}'s runtime",
            describe=self.describe,
            retry_on=(NodeCommandError,),
        )

    def assert_container_kept(self, container: ContainerStatus, window: float = 10) -> None:
        """The container keeps running: same id, same attempt, for `window` seconds."""

        def identity() -> tuple[str, int] | None:
            now = self.running_container(container.name)
            return (now.id, now.attempt) if now else None

        hold_for(
            identity,
            window=window,
            unchanged_from=(container.id, container.attempt),
            expected=f"container {container.name} of {self.mirror_name} running unchanged",
        )

    def relist_window(self) -> float:
        """Seconds in which the kubelet surely re-lists its manifest path once (inotify aside)."""
        return self.node.kubelet.file_check_frequency() + RELIST_MARGIN

    def resync_window(self, syncs: int = 2) -> float:
        """Seconds in which the kubelet surely syncs this pod `syncs` times by its periodic resync
        alone (where a mirror pod that is not what it should be gets replaced)."""
        return self.node.kubelet.sync_frequency() * LONGEST_RESYNC * syncs

    def wait_for_log(self, since: datetime, *fragments: str) -> str:
        """A kubelet journal line since `since` with every fragment, waited for up to one re-list."""
        return self.node.kubelet.wait_for_log(since, *fragments, timeout=self.relist_window())

    def assert_refused(self, since: datetime, *reason: str) -> str:
        """The kubelet refuses this file: it logs "Could not process manifest file" for it (with
        every fragment of `reason`) and runs nothing from it. Returns the log line."""
        line = self.wait_for_log(since, "Could not process manifest file", self.path, *reason)
        self.assert_never_started(window=REFUSED_WINDOW)
        return line

    def assert_never_started(self, window: float | None = None) -> None:
        """No container on the node and no mirror pod for `window` seconds (default: relist_window)."""
        hold_for(
            lambda: (self._describe_containers(), self.mirror() is None),
            window=window or self.relist_window(),
            unchanged_from=("no containers", True),
            expected=f"no container and no mirror pod from {self.node.name}:{self.path}",
        )

    def _describe_containers(self) -> str:
        rows = [f"{c.name} {c.id[:13]} {c.state} attempt={c.attempt}" for c in self.containers()]
        return "; ".join(rows) or "no containers"

    def describe(self) -> str:
        """What the node runs, and the kubelet's own word on it: the mirror's container reasons and
        the pod's latest event (an image that cannot be pulled shows as ErrImagePull there)."""
        parts = [self._describe_containers()]
        try:
            mirror = self.mirror()
            events = self.core.list_namespaced_event(
                self.namespace, field_selector=f"involvedObject.name={self.mirror_name}"
            ).items
        except (k8s.ApiException, HTTPError) as error:
            return f"{parts[0]}; (API server: {type(error).__name__})"
        parts += _container_reasons(mirror) if mirror else ["no mirror pod"]
        if events:
            latest = max(events, key=event_time)
            parts.append(f"latest event: {latest.reason}: {latest.message}")
        return "; ".join(parts)


def _container_reasons(mirror: k8s.V1Pod) -> list[str]:
    """The reason of each container that is waiting or terminated, as the kubelet reports it."""
    reasons = []
    statuses = (mirror.status.init_container_statuses or []) + (mirror.status.container_statuses or [])
    for status in statuses:
        state = status.state
        detail = state and (state.waiting or state.terminated)
        if detail and detail.reason:
            message = f" ({detail.message})" if detail.message else ""
            reasons.append(f"mirror: {status.name} {detail.reason}{message}")
    return reasons


def event_time(event: k8s.CoreV1Event) -> datetime:
    """When an event last happened: older API servers set last_timestamp, newer ones event_time."""
    return event.last_timestamp or event.event_time or event.metadata.creation_timestamp


def containers_ready(pod: k8s.V1Pod) -> bool:
    statuses = pod.status.container_statuses or []
    return bool(statuses) and all(s.ready for s in statuses)


@dataclass
class StaticPods:
    """Places static pods for one test and takes them all away afterwards."""

    cluster: Cluster
    image: str  # the suite's test image, loaded into every node
    placed: list[StaticPod] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    extra_files: list[tuple[Node, str]] = field(default_factory=list)

    def default_node(self) -> Node:
        """Where tests place pods unless they say otherwise: a worker if there is one."""
        return (self.cluster.workers or [self.cluster.control_plane])[0]

    def manifest(self, fixture: str = "testapp", prefix: str | None = None) -> Manifest:
        """A fixture manifest with the test image and a name no other test uses."""
        base = Manifest.from_fixture(fixture, image=self.image)
        return base.with_name(unique_name(prefix or base.name))

    def manifest_dir(self, node: Node) -> str:
        """The node's staticPodPath, created (and said so) when it does not exist yet, as an operator would:
        the kubelet waits for a missing directory ("path does not exist, ignoring") but never makes it."""
        path = node.kubelet.static_pod_path()
        if not path:
            raise HarnessError(f"the kubelet on {node.name} has no staticPodPath: it runs no static pods")
        if not node.file(path).exists:
            node.makedirs(path)
            print(
                f"[static-pods] {node.name}: staticPodPath {path} did not exist; created it",
                file=sys.stderr,
                flush=True,
            )
        return path

    def place(
        self,
        manifest: Manifest,
        *,
        node: Node | None = None,
        filename: str | None = None,
        data: bytes | None = None,
        mode: int = 0o644,
    ) -> StaticPod:
        """Write `manifest` (or raw `data`) into the node's staticPodPath, atomically, root-owned.

        An absolute `filename` is used as it is: a staticPodPath naming one file, or a path the
        kubelet is not told about.
        """
        node = node or self.default_node()
        if filename and posixpath.isabs(filename):
            path = filename
        else:
            path = posixpath.join(self.manifest_dir(node), filename or f"{manifest.name}.yaml")
        pod = StaticPod(node, path, manifest, self.cluster.core)
        self.placed.append(pod)  # before writing: a write cut short still gets cleaned up
        node.file(path).write_bytes(manifest.render_for(path) if data is None else data, mode)
        return pod

    def place_file(self, node: Node, path: str, data: bytes) -> None:
        """A file that is not a pod of ours (a malformed manifest, a dot-file): removed at the end."""
        self.extra_files.append((node, path))
        node.file(path).write_bytes(data)

    def cleanup(self) -> None:
        """Remove every file placed; wait until the kubelet stopped the pods and their mirrors went.

        Every step is tried even when one fails; the first failure is raised at the end. Nothing is
        done for a cluster that is gone (deleted on an interrupt)."""
        if self.cluster.deleted:
            return
        steps: list[Callable[[], None]] = [
            *(lambda n=node, p=path: n.file(p).remove(missing_ok=True) for node, path in self.extra_files),
            *(lambda p=pod: p.remove_file() for pod in self.placed),
            *(step for pod in self.placed for step in (pod.wait_containers_gone, pod.wait_for_mirror_gone)),
        ]
        errors = []
        for step in steps:
            try:
                step()
            except Exception as error:
                errors.append(error)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ExceptionGroup("static pod clean-up: several steps failed", errors)
