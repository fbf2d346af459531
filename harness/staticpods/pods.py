"""Static pods placed on nodes, and what the kubelet and the API server make of them.

A StaticPod is one manifest file in one node's staticPodPath. Its questions are
answered from both sides: the node (crictl: is a container of this pod running?) and
the API server (the mirror pod `<name>-<node>`). Waits on the mirror use API watches;
waits on the node poll crictl, since the kubelet has no event stream for them.
StaticPods places them for one test and removes them all afterwards; its gone_checks wait until
the kubelet has really stopped them (the plugin runs those while the next test runs,
harness.plugin.settling).
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
from harness.errors import HarnessError, run_each
from harness.node import ContainerStatus, Node, NodeCommandError
from harness.staticpods.manifest import (
    DEFAULT_NAMESPACE,
    Manifest,
    mirror_pod_name,
    read_raw_fixture,
    unique_name,
)
from harness.waiting import deliberate, hold_for, poll_until, watch_until

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
# Logged by the file source's re-list (extractFromDir) only, never on an inotify event (file.go).
RELIST_REFUSAL = "Could not process manifest file"
# A pod worker re-syncs its pod every syncFrequency plus up to half of it again as jitter
# (pod_workers.go workerResyncIntervalJitterFactor 0.5): the longest gap between two periodic syncs.
LONGEST_RESYNC = 1.5
# Seconds between two crictl probes of a node-side wait. Each probe is a `docker exec` of about
# 0.1 s itself, so a shorter interval (`make bench` uses FAST_NODE_POLL) at most doubles the
# exec rate; the waits stay bounded by their timeouts either way.
NODE_POLL = 0.5
FAST_NODE_POLL = 0.1


@dataclass
class StaticPod:
    """One manifest on one node: `path` is where the kubelet reads it."""

    node: Node
    path: str
    manifest: Manifest
    core: k8s.CoreV1Api
    poll_interval: float = NODE_POLL  # between two crictl probes of the node-side waits

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

    def wait_for_mirror_gone(self, seen: Callable[[k8s.V1Pod], None] = lambda p: None) -> None:
        """Until the API server has no mirror; `seen` is given each state of it shown before that."""

        def gone(pod: k8s.V1Pod | None) -> bool:
            if pod is not None:
                seen(pod)
            return pod is None

        watch_until(
            self.core.list_namespaced_pod,
            gone,
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
            interval=self.poll_interval,
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
            interval=self.poll_interval,
        )

    def wait_containers_gone(self, pod_uid: str | None = None) -> None:
        """No container of this pod runs on the node; with `pod_uid`, none of that pod's (UID)."""
        poll_until(
            lambda: not any(c.running and pod_uid in (None, c.pod_uid) for c in self.containers()),
            timeout=NODE_TIMEOUT,
            expected=f"no running container of {self.mirror_name}"
            + (f"'s pod {pod_uid}" if pod_uid else "")
            + f" on {self.node.name}",
            describe=self.describe,
            retry_on=(NodeCommandError,),
            interval=self.poll_interval,
        )

    def wait_replaced(self, old_uid: str) -> None:
        """After an edit that makes this another pod (another UID): the old pod's containers stop,
        then the new pod's sandbox is made. `old_uid` is the old pod's (its mirror's config.hash).

        Between the two the kubelet waits on purpose, and that wait counts as deliberate: it does not
        start a static pod while another of the same full name still holds it, and looks again only
        after its pod worker's back-off, 10 s plus up to half of it as jitter (pod_workers.go
        allowPodStart, kubelet.go backOffPeriod). The new sandbox's creation (about 0.1 s) falls in it."""
        self.wait_containers_gone(old_uid)
        with deliberate():
            poll_until(
                lambda: any(
                    s.uid != old_uid
                    for s in self.node.crictl.pods(name=self.mirror_name, namespace=self.namespace)
                ),
                timeout=NODE_TIMEOUT,
                expected=f"a sandbox of {self.mirror_name} for a pod other than {old_uid}",
                describe=self.describe,
                retry_on=(NodeCommandError,),
                interval=FAST_NODE_POLL,  # the deliberate wait ends with the probe that sees it end
            )

    def wait_containers_removed(self) -> None:
        """Not even an exited container of this pod is left in the runtime (crictl ps -a)."""
        poll_until(
            lambda: not self.containers(),
            timeout=NODE_TIMEOUT,
            expected=f"every container of {self.mirror_name} removed from {self.node.name}'s runtime",
            describe=self.describe,
            retry_on=(NodeCommandError,),
            interval=self.poll_interval,
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

    def assert_never_started(self, window: float | None = None) -> None:
        """No container on the node and no mirror pod for `window` seconds (default: relist_window).

        Only where nothing can prove the kubelet looked (it is stopped, or reads no staticPodPath);
        otherwise StaticPods.assert_not_run ends as soon as it has."""
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
    poll_interval: float = NODE_POLL  # given to every StaticPod placed here
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
        pod = StaticPod(node, path, manifest, self.cluster.core, self.poll_interval)
        self.placed.append(pod)  # before writing: a write cut short still gets cleaned up
        node.file(path).write_bytes(manifest.render_for(path) if data is None else data, mode)
        return pod

    def wait_kubelet_caught_up(self, node: Node, *, relist: bool = False) -> dict[str, str]:
        """The kubelet's own pods (full name -> UID), once it has provably handled every change made to
        the node's staticPodPath before this call; with `relist`, also by a re-list of it.

        Why a sentinel proves it (pkg/kubelet/config/file.go run, file_linux.go doWatch): one goroutine
        of the kubelet's file source handles both the inotify events of the directory, in the order
        the kernel queued them, and the periodic re-list, and after each pushes the whole set of pods
        it accepted as one SET update, which the kubelet applies in order. A sentinel manifest written
        after the changes is handled after them: by its inotify event, or, when no watch runs, by the
        re-list that reads every file at once. Once the sentinel's container runs, the pod manager
        (GET /pods on the node) has applied that update, so it holds every pod the source accepted
        from files written before the sentinel.

        With `relist` (behaviours of the re-list itself, extractFromDir: the glob "[^.]*", no
        recursion), a malformed marker file is written first: its RELIST_REFUSAL line, which only
        extractFromDir logs, proves a re-list has read the directory since; the sentinel follows it.
        """
        directory = self.manifest_dir(node)
        if relist:
            since, marker = (
                datetime.now(UTC),
                posixpath.join(directory, f"{unique_name('relist-marker')}.yaml"),
            )
            self.place_file(node, marker, read_raw_fixture("malformed"))
            relist_window = node.kubelet.file_check_frequency() + RELIST_MARGIN
            with deliberate():  # the kubelet's next re-list
                node.kubelet.wait_for_log(since, RELIST_REFUSAL, marker, timeout=relist_window)
        sentinel = self.place(self.manifest(prefix="sentinel"), node=node)
        sentinel.wait_running()
        pods = {p["metadata"]["name"]: p["metadata"]["uid"] for p in self.cluster.kubelet_pods(node.name)}
        if sentinel.mirror_name not in pods:
            raise AssertionError(f"the sentinel {sentinel.mirror_name} runs but the kubelet does not list it")
        return pods

    def assert_not_run(self, pod: StaticPod, *, relist: bool = False) -> None:
        """The kubelet has provably looked at `pod`'s file (wait_kubelet_caught_up) and runs nothing
        from it: the pod is not in the kubelet's own pod list, and has no sandbox, no container (not
        even an exited one) and no mirror pod."""
        pods = self.wait_kubelet_caught_up(pod.node, relist=relist)
        seen = {
            "in the kubelet's pod list": pod.mirror_name in pods,
            "sandboxes": pod.node.crictl.pods(name=pod.mirror_name, namespace=pod.namespace),
            "containers": pod.containers(),
            "mirror pod": pod.mirror(),
        }
        found = {what: value for what, value in seen.items() if value}
        if found:
            raise AssertionError(
                f"the kubelet runs {pod.mirror_name} from {pod.node.name}:{pod.path}: {found}"
            )

    def assert_refused(self, pod: StaticPod, since: datetime, *reason: str) -> str:
        """The kubelet refuses `pod`'s file: a re-list logs RELIST_REFUSAL for it (with every fragment
        of `reason`), and it runs nothing from it (assert_not_run). Returns the log line."""
        with deliberate():  # the kubelet's next re-list
            line = pod.wait_for_log(since, RELIST_REFUSAL, pod.path, *reason)
        self.assert_not_run(pod)
        return line

    def place_file(self, node: Node, path: str, data: bytes) -> None:
        """A file that is not a pod of ours (a malformed manifest, a dot-file): removed at the end."""
        self.extra_files.append((node, path))
        node.file(path).write_bytes(data)

    def remove_files(self) -> None:
        """Remove every file placed (every removal tried, even when one fails). Nothing is done for a
        cluster that is gone (deleted on an interrupt)."""
        if self.cluster.deleted:
            return
        run_each(
            [
                *(
                    lambda n=node, p=path: n.file(p).remove(missing_ok=True)
                    for node, path in self.extra_files
                ),
                *(pod.remove_file for pod in self.placed),
            ],
            "removing the static pods' files",
        )

    def gone_checks(self) -> list[Callable[[], None]]:
        """Waits, one a step, until the kubelet has stopped every pod placed and their mirrors are
        gone: for after remove_files."""
        return [step for pod in self.placed for step in (pod.wait_containers_gone, pod.wait_for_mirror_gone)]

    def cleanup(self) -> None:
        """remove_files, then every gone_check (each tried even when one fails): the node is as it
        was before."""
        if not self.cluster.deleted:
            run_each([self.remove_files, *self.gone_checks()], "static pod clean-up")
