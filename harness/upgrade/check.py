"""The upgrade check: static pods of every shape (and the user's own) under FROM's kubelet, the
kubelet swapped to TO in place (through the newest patch of each minor between, one hop each), and
what happened to each pod recorded from both sides, one record per hop.

The control plane already runs TO (the cluster is made from TO's node image); the node under
test is a worker whose kubelet is first replaced by FROM's, so the API server is never older
than a kubelet (version-skew policy). The swap then goes the operator's way
(harness.upgrade.swap), watched: the mirrors' Ready through an API watch, the kubelet's journal
and the pods' events. After the pods settled, the core behaviours are checked on the new
kubelet. Nothing here asserts: the record is what the report and the gate read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from harness.cluster.cluster import Cluster
from harness.cluster.hostfacts import HostFacts
from harness.node import Node, NodeCommandError
from harness.staticpods.manifest import DEFAULT_NAMESPACE, Manifest, unique_name
from harness.staticpods.pods import StaticPod, StaticPods, event_time
from harness.staticpods.ready_watch import ReadyWatch
from harness.upgrade import swap
from harness.upgrade.observe import ready_and_started, snapshot
from harness.upgrade.records import BehaviourResult, Step, SwapObservation, UpgradeRecord, lines_about
from harness.waiting import HoldBroken, WaitTimeout, hold_for, scaled

# What real nodes run as static pods (fixtures/manifests/upgrade-*.yaml).
POD_SHAPES = (
    "upgrade-plain",
    "upgrade-init",
    "upgrade-sidecar",
    "upgrade-hostpath",
    "upgrade-guaranteed",
    "upgrade-probes",
    "upgrade-hostnetwork",
    "upgrade-downward",
)
T = TypeVar("T")
RUN_LABEL = "static-pod-harness/upgrade-check"
# Seconds every pod must keep the same containers once all are up again, so that what the new
# kubelet does at its first sync of each pod (a restart for a changed definition) falls inside.
SETTLE_WINDOW = 30
# Seconds (scaled) the pods may take to settle after the swap.
SETTLE_TIMEOUT = 300


@dataclass(frozen=True)
class Hop:
    """One kubelet the node is upgraded to: `version` as it reports itself; `kubelet` None for the
    node's own (TO's), put back."""

    version: str
    kubelet: bytes | None


@dataclass
class UpgradeCheck:
    cluster: Cluster
    pods: StaticPods
    node: Node
    from_version: str
    user_manifests: tuple[Manifest, ...] = ()
    builtin: bool = True

    def run(self, from_kubelet: bytes, hops: Sequence[Hop]) -> tuple[UpgradeRecord, ...]:
        """FROM's kubelet in, static pods placed, then each hop's swap watched (a record each), with
        the post-upgrade behaviours after it. A hop whose node never got Ready ends the check."""
        own = swap.stash_kubelet(self.node)
        self._install(from_kubelet, self.from_version)
        run = unique_name("upgrade")
        placed = self.place(run)
        for pod in placed:
            pod.wait_up()
        records: list[UpgradeRecord] = []
        version = self.from_version
        for hop in hops:
            record = self.hop(placed, run, version, hop, self.kubeadm_upgrade_node, own)
            records.append(record)
            if record.node_ready_seconds is None:
                break
            version = hop.version
        return tuple(records)

    def kubeadm_upgrade_node(self) -> str:
        swap.kubeadm_upgrade_node(self.node, cgroup_v1=HostFacts.read().cgroup_v1)
        return "kubeadm upgrade node"

    def place(self, run: str) -> list[StaticPod]:
        """The built-in shapes (unless left out) and the user's pods, each labelled with the run."""
        label = {RUN_LABEL: run}
        shapes = POD_SHAPES if self.builtin else ()
        builtin = [self.pods.place(self.pods.manifest(s).with_labels(label), node=self.node) for s in shapes]
        users = [
            self.pods.place(
                m.with_labels(label),
                node=self.node,
                filename=f"{m.namespace or DEFAULT_NAMESPACE}-{m.name}.yaml",
            )
            for m in self.user_manifests
        ]
        return builtin + users

    def hop(
        self,
        placed: list[StaticPod],
        run: str,
        version: str,
        hop: Hop,
        kubeadm: Callable[[], str],
        own: str | None = None,
    ) -> UpgradeRecord:
        """One swap from `version` to `hop`, watched: `kubeadm` (its step's name returned), the new
        kubelet (or the `own` one put back), the restart, the settling, the post-upgrade behaviours."""
        before = tuple(snapshot(pod) for pod in placed)
        selector = f"{RUN_LABEL}={run}"
        namespaces = sorted({pod.namespace for pod in placed})
        watches = [ReadyWatch(self.cluster.kubeconfig, ns, selector, ready_and_started) for ns in namespaces]
        # What fails after the swap is a result of the check, reported with the rest, not a crash.
        problems: list[BehaviourResult] = []
        steps: list[Step] = []
        with ExitStack() as watching:
            for watch in watches:
                watching.enter_context(watch.running())
            started = datetime.now(UTC)
            steps.append(Step(started, kubeadm()))
            if hop.kubelet is None:
                if own is None:
                    raise ValueError("a hop to the node's own kubelet needs it stashed first")
                swap.install_stashed(self.node, own)
            else:
                swap.put_kubelet(self.node, hop.kubelet)
            swap_started = datetime.now(UTC)
            steps.append(Step(swap_started, f"kubelet {hop.version} in place, restarted"))
            ready_seconds = _outcome(
                "the node is Ready with the new kubelet",
                lambda: self._restart_until_ready(hop.version),
                problems,
            )
            if ready_seconds is not None:
                steps.append(Step(datetime.now(UTC), "node Ready"))
                settled = _outcome(
                    "every static pod is up again and holds still", lambda: self._settle(placed), problems
                )
                if settled is not None:
                    steps.append(Step(datetime.now(UTC), "pods settled"))
            watch_ended = datetime.now(UTC)
        problems += [
            BehaviourResult("the Ready watch saw the whole swap", False, w.error) for w in watches if w.error
        ]
        transitions = {key: seen for w in watches for key, seen in w.transitions.items()}
        after = tuple(record for record in map(snapshot, placed) if record is not None)
        journal = self.node.kubelet.journal(swap_started).splitlines()
        observations = tuple(
            SwapObservation(
                key=f"{pod.namespace}/{pod.mirror_name}",
                transitions=tuple(transitions.get(f"{pod.namespace}/{pod.mirror_name}", ())),
                log_lines=lines_about(pod.namespace, pod.mirror_name, journal)
                + self._events(pod, swap_started),
            )
            for pod in placed
        )
        users = placed[len(placed) - len(self.user_manifests) :]
        return UpgradeRecord(
            from_version=version,
            to_version=hop.version,
            node=self.node.name,
            swap_started=swap_started,
            watch_ended=watch_ended,
            node_ready_seconds=ready_seconds,
            before=tuple(b for b in before if b is not None),
            after=after,
            observations=observations,
            behaviours=tuple(problems + (self._behaviours() if ready_seconds is not None else [])),
            steps=tuple(steps),
            user_pods=tuple(f"{pod.namespace}/{pod.mirror_name}" for pod in users),
        )

    def _install(self, binary: bytes, version: str) -> None:
        swap.put_kubelet(self.node, binary)
        self._restart_until_ready(version)

    def _restart_until_ready(self, version: str) -> float:
        """Restart the kubelet; seconds until the node is Ready with a kubelet of `version`."""
        return swap.restart_until_ready(self.cluster, self.node, version)

    def _settle(self, placed: list[StaticPod]) -> bool:
        """Until every pod is up and their running containers stay the same for SETTLE_WINDOW: what
        the new kubelet does to them (restarts for a changed definition) happens before that."""
        deadline = time.monotonic() + scaled(SETTLE_TIMEOUT)
        while True:
            for pod in placed:
                pod.wait_up()
            try:
                hold_for(
                    lambda: [tuple(c.id for c in pod.containers() if c.running) for pod in placed],
                    window=SETTLE_WINDOW,
                    expected="every static pod's running containers unchanged once all were up again",
                )
                return True
            except (HoldBroken, NodeCommandError):  # changed, or crictl failed while the runtime was busy
                if time.monotonic() > deadline:
                    raise

    def _events(self, pod: StaticPod, since: datetime) -> tuple[str, ...]:
        events = self.cluster.core.list_namespaced_event(
            pod.namespace, field_selector=f"involvedObject.name={pod.mirror_name}"
        ).items
        since = since.replace(microsecond=0)  # event times are whole seconds
        return tuple(f"event {e.reason}: {e.message}" for e in events if event_time(e) >= since)

    def _behaviours(self) -> list[BehaviourResult]:
        checks: list[tuple[str, Callable[[], str]]] = [
            ("a new manifest runs and gets its mirror", self._new_manifest_runs),
            ("an edited manifest replaces the pod", self._edit_replaces),
            ("a removed manifest stops the pod and its mirror", self._removal_stops),
            ("a deleted mirror pod comes back", self._deleted_mirror_returns),
        ]
        results = []
        for behaviour, check in checks:
            try:
                results.append(BehaviourResult(behaviour, True, check()))
            except Exception as error:  # a failed behaviour is a result, reported with why
                results.append(BehaviourResult(behaviour, False, f"{type(error).__name__}: {error}"))
        return results

    def _new_manifest_runs(self) -> str:
        pod = self.pods.place(self.pods.manifest(prefix="after-upgrade"), node=self.node)
        mirror, container = pod.wait_up()
        return f"mirror {mirror.metadata.name} Running, container {container.id[:13]}"

    def _edit_replaces(self) -> str:
        pod = self.pods.place(self.pods.manifest(prefix="edited"), node=self.node)
        mirror, container = pod.wait_up()
        pod.rewrite(pod.manifest.with_labels(version="2"))
        new = pod.wait_running(other_than=container)
        replaced = pod.wait_for_new_mirror(mirror.metadata.uid)
        return f"container {container.id[:13]} -> {new.id[:13]}, mirror UID {replaced.metadata.uid}"

    def _removal_stops(self) -> str:
        pod = self.pods.place(self.pods.manifest(prefix="removed"), node=self.node)
        pod.wait_up()
        pod.remove_file()
        pod.wait_containers_gone()
        pod.wait_for_mirror_gone()
        return "containers and mirror gone"

    def _deleted_mirror_returns(self) -> str:
        pod = self.pods.place(self.pods.manifest(prefix="mirror-deleted"), node=self.node)
        mirror, _ = pod.wait_up()
        self.cluster.core.delete_namespaced_pod(mirror.metadata.name, mirror.metadata.namespace)
        back = pod.wait_for_new_mirror(mirror.metadata.uid)
        return f"new mirror UID {back.metadata.uid}"


def _outcome(what: str, step: Callable[[], T], problems: list[BehaviourResult]) -> T | None:
    """The step's value; when its wait ran out, None and a failed entry in `problems`."""
    try:
        return step()
    except (WaitTimeout, HoldBroken, NodeCommandError) as error:
        problems.append(BehaviourResult(what, False, f"{type(error).__name__}: {error}"))
        return None
