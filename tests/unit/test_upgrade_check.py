"""The upgrade check's orchestration (harness.upgrade.check.UpgradeCheck.run) with everything around
it faked: the swap, the snapshots, the Ready watch, the waits, the node, the pods and the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any, ClassVar

import pytest

from harness.cluster.hostfacts import HostFacts
from harness.upgrade import check
from harness.upgrade.check import POD_SHAPES, RUN_LABEL, Hop, UpgradeCheck
from harness.upgrade.observe import ready_and_started
from harness.upgrade.records import BehaviourResult, PodRecord, ReadyTransition
from harness.waiting import WaitTimeout

FROM, TO = "v1.30.14", "v1.31.0"
NODE = "static-pods-upgrade-worker"
STASHED = "/usr/local/lib/static-pod-harness/kubelet-v1.31.0"
JOURNAL_LINE = (
    'I1127 15:21:48 kubelet.go:1900] "Deleted mirror pod because it is outdated" '
    f'pod="default/upgrade-plain-{NODE}"'
)


class FakeManifest:
    def __init__(self, name: str, namespace: str | None = None) -> None:
        self.name, self.namespace = name, namespace
        self.labels: dict[str, str] = {}

    def with_labels(self, labels: dict[str, str] | None = None, **more: str) -> FakeManifest:
        self.labels.update(labels or {}, **more)
        return self


class FakePod:
    """A placed static pod; every step it is asked for goes to the log."""

    def __init__(self, manifest: FakeManifest, log: list[str]) -> None:
        self.manifest, self.log = manifest, log
        self.namespace = manifest.namespace or "default"
        self.mirror_name = f"{manifest.name}-{NODE}"
        self.name = manifest.name

    def wait_up(self) -> tuple[Any, Any]:
        self.log.append(f"up {self.name}")
        return NS(metadata=NS(name=self.mirror_name, namespace="default", uid="uid-1")), NS(id="c" * 20)

    def containers(self) -> list[Any]:
        return [NS(id=f"{self.name}-app", running=True)]

    def rewrite(self, manifest: FakeManifest) -> None:
        self.manifest = manifest

    def wait_running(self, other_than: Any) -> Any:
        return NS(id="d" * 20)

    def wait_for_new_mirror(self, old_uid: str) -> Any:
        return NS(metadata=NS(uid="uid-2"))

    def remove_file(self) -> None: ...
    def wait_containers_gone(self) -> None: ...
    def wait_for_mirror_gone(self) -> None: ...


class FakePods:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.placed: list[FakePod] = []

    def manifest(self, fixture: str = "testapp", prefix: str | None = None) -> FakeManifest:
        return FakeManifest(prefix or fixture)

    def place(self, manifest: FakeManifest, node: Any, filename: str | None = None) -> FakePod:
        assert node.name == NODE
        self.log.append(f"place {manifest.name}" + (f" as {filename}" if filename else ""))
        pod = FakePod(manifest, self.log)
        self.placed.append(pod)
        return pod


class FakeCore:
    def __init__(self, events: list[Any]) -> None:
        self.events = events
        self.event_queries: list[tuple[str, str]] = []

    def list_node(self, **_: Any) -> Any:
        raise AssertionError("watch_until is faked")

    def list_namespaced_event(self, namespace: str, field_selector: str) -> Any:
        self.event_queries.append((namespace, field_selector))
        return NS(items=self.events)

    def delete_namespaced_pod(self, name: str, namespace: str) -> None: ...


class FakeKubelet:
    def __init__(self, log: list[str], journal: str) -> None:
        self.log, self.lines = log, journal
        self.since: list[datetime] = []

    def restart(self) -> None:
        self.log.append("restart kubelet")

    def journal(self, since: datetime) -> str:
        self.since.append(since)
        return self.lines


class FakeReadyWatch:
    """Stands in for observe.ReadyWatch: says when it runs; `error` is what a stopped watch says."""

    error: str | None = None
    made: ClassVar[list[FakeReadyWatch]] = []
    log: ClassVar[list[str]] = []

    def __init__(self, kubeconfig: Path, namespace: str, label_selector: str, state: Any) -> None:
        self.kubeconfig, self.namespace, self.label_selector = kubeconfig, namespace, label_selector
        self.state = state
        self.error = FakeReadyWatch.error
        self.transitions: dict[str, list[ReadyTransition]] = {}
        FakeReadyWatch.made.append(self)

    @contextmanager
    def running(self) -> Iterator[FakeReadyWatch]:
        self.log.append("watch starts")
        try:
            yield self
        finally:
            self.log.append("watch ends")


def event(reason: str, message: str, at: datetime) -> Any:
    return NS(reason=reason, message=message, last_timestamp=at, event_time=None, metadata=None)


class Setup:
    """The faked world of one check; `never_ready` makes the node never Ready with TO's kubelet."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log: list[str] = []
        self.never_ready = False
        self.events: list[Any] = []
        self.core = FakeCore(self.events)
        self.pods = FakePods(self.log)
        journal = f"{JOURNAL_LINE}\nI1127 15:21:49 kubelet.go:2000] a line about no pod"
        self.node = NS(name=NODE, kubelet=FakeKubelet(self.log, journal))
        self.cluster = NS(
            kubeconfig=Path("/tmp/kubeconfig"), core=self.core, control_plane=NS(name="control-plane")
        )
        log = self.log
        FakeReadyWatch.log = log
        FakeReadyWatch.error, FakeReadyWatch.made = None, []

        monkeypatch.setattr(check.swap, "stash_kubelet", lambda node: log.append("stash kubelet") or STASHED)
        monkeypatch.setattr(
            check.swap, "put_kubelet", lambda node, binary: log.append(f"put {binary.decode()}")
        )
        monkeypatch.setattr(
            check.swap, "install_stashed", lambda node, stashed: log.append(f"install {stashed}")
        )
        monkeypatch.setattr(
            check.swap,
            "kubeadm_upgrade_node",
            lambda node, *, cgroup_v1: log.append(f"kubeadm upgrade node (cgroup v1: {cgroup_v1})"),
        )
        monkeypatch.setattr(
            check.HostFacts, "read", staticmethod(lambda: HostFacts(can_lower_oom_score=True, cgroup_v1=True))
        )
        monkeypatch.setattr(check, "ReadyWatch", FakeReadyWatch)
        monkeypatch.setattr(check, "snapshot", self.snapshot)
        monkeypatch.setattr(check.swap, "watch_until", self.watch_until)
        monkeypatch.setattr(check, "hold_for", self.hold_for)

    def snapshot(self, pod: FakePod) -> PodRecord:
        self.log.append(f"snapshot {pod.name}")
        return PodRecord("default", pod.mirror_name, "uid-1", "hash", "Running", ("sandbox",), ())

    def watch_until(self, list_func: Any, predicate: Any, *, expected: str, **kwargs: Any) -> Any:
        assert kwargs["field_selector"] == f"metadata.name={NODE}"
        if self.never_ready and expected.endswith(TO):
            raise WaitTimeout(expected, 180, "Ready False")
        self.log.append(f"node Ready with {expected.split()[-1]}")
        return NS()

    def hold_for(self, probe: Any, *, window: float, expected: str) -> Any:
        self.log.append("pods hold still")
        return probe()

    def check(self) -> UpgradeCheck:
        return UpgradeCheck(self.cluster, self.pods, self.node, FROM)  # type: ignore[arg-type]

    def steps(self) -> list[str]:
        """The log up to the after snapshots, each run of per-pod steps once."""
        last = max(i for i, line in enumerate(self.log) if line.startswith("snapshot"))
        steps: list[str] = []
        for line in self.log[: last + 1]:
            kind = line.split()[0]
            if kind in ("place", "up", "snapshot"):
                line = f"{kind} (each pod)"
            if not steps or steps[-1] != line:
                steps.append(line)
        return steps


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Setup:
    return Setup(monkeypatch)


def test_the_swap_goes_in_order_under_the_watch(world: Setup) -> None:
    (record,) = world.check().run(b"kubelet-FROM", [Hop(TO, b"kubelet-TO")])

    assert world.steps() == [
        "stash kubelet",
        "put kubelet-FROM",
        "restart kubelet",
        f"node Ready with {FROM}",
        "place (each pod)",
        "up (each pod)",
        "snapshot (each pod)",
        "watch starts",
        "kubeadm upgrade node (cgroup v1: True)",
        "put kubelet-TO",
        "restart kubelet",
        f"node Ready with {TO}",
        "up (each pod)",
        "pods hold still",
        "watch ends",
        "snapshot (each pod)",
    ]
    placed = [line.split()[1] for line in world.log if line.startswith("place")]
    assert placed == [*POD_SHAPES, "after-upgrade", "edited", "removed", "mirror-deleted"]
    assert [line for line in world.log if line.startswith("snapshot")] == [
        f"snapshot {shape}" for shape in POD_SHAPES * 2
    ]
    (watch,) = FakeReadyWatch.made
    run = world.pods.placed[0].manifest.labels[RUN_LABEL]
    assert (watch.namespace, watch.label_selector) == ("default", f"{RUN_LABEL}={run}")
    assert watch.state is ready_and_started  # a Started reset counts (KEP-4781)
    assert all(pod.manifest.labels == {RUN_LABEL: run} for pod in world.pods.placed[:8])

    assert (record.from_version, record.to_version, record.node) == (FROM, TO, NODE)
    assert record.node_ready_seconds is not None
    assert len(record.before) == len(record.after) == 8
    assert record.swap_started <= record.watch_ended
    assert [b.behaviour for b in record.behaviours] == [
        "a new manifest runs and gets its mirror",
        "an edited manifest replaces the pod",
        "a removed manifest stops the pod and its mirror",
        "a deleted mirror pod comes back",
    ]
    assert all(b.passed for b in record.behaviours), record.behaviours


def test_without_a_new_kubelet_the_nodes_own_is_put_back(world: Setup) -> None:
    world.check().run(b"kubelet-FROM", [Hop(TO, None)])

    steps = world.steps()
    assert steps[steps.index("watch starts") + 1 : steps.index("watch ends")] == [
        "kubeadm upgrade node (cgroup v1: True)",
        f"install {STASHED}",
        "restart kubelet",
        f"node Ready with {TO}",
        "up (each pod)",
        "pods hold still",
    ]


def test_the_journal_and_events_from_the_swap_on_go_to_each_pod(world: Setup) -> None:
    world.events.append(event("Killing", "Stopping container app", datetime(2100, 1, 1, tzinfo=UTC)))

    (record,) = world.check().run(b"kubelet-FROM", [Hop(TO, b"kubelet-TO")])

    assert world.node.kubelet.since == [record.swap_started]
    plain = record.observations[0]
    assert plain.key == f"default/upgrade-plain-{NODE}"
    assert plain.log_lines == (
        JOURNAL_LINE,
        "event Killing: Stopping container app",
    )
    assert record.observations[1].log_lines == ("event Killing: Stopping container app",)
    assert world.core.event_queries[0] == ("default", f"involvedObject.name=upgrade-plain-{NODE}")


def test_a_node_never_ready_with_the_new_kubelet_is_a_result_not_a_crash(world: Setup) -> None:
    world.never_ready = True

    (record,) = world.check().run(b"kubelet-FROM", [Hop(TO, b"kubelet-TO")])

    assert record.node_ready_seconds is None
    (ready,) = record.behaviours  # no settling, no post-upgrade behaviours
    assert (ready.behaviour, ready.passed) == ("the node is Ready with the new kubelet", False)
    assert ready.detail.startswith(f"WaitTimeout: expected node {NODE} Ready with kubelet {TO}")
    assert "pods hold still" not in world.log
    assert world.steps()[-2:] == ["watch ends", "snapshot (each pod)"]
    assert len(record.after) == 8
    assert len(world.pods.placed) == 8  # nothing placed for the behaviours


def test_a_ready_watch_that_stopped_is_a_failed_entry(world: Setup) -> None:
    FakeReadyWatch.error = "the Ready watch stopped: ApiException: 403 Forbidden"

    (record,) = world.check().run(b"kubelet-FROM", [Hop(TO, b"kubelet-TO")])

    assert record.behaviours[0] == BehaviourResult(
        "the Ready watch saw the whole swap", False, "the Ready watch stopped: ApiException: 403 Forbidden"
    )
    assert len(record.behaviours) == 5
    assert all(b.passed for b in record.behaviours[1:])


def test_events_are_kept_from_the_swaps_second_on(world: Setup) -> None:
    started = datetime(2026, 11, 27, 15, 21, 46, 700_000, tzinfo=UTC)
    world.events += [
        event("Pulled", "before the swap", started.replace(second=45, microsecond=0)),
        event("Killing", "the swap's own second", started.replace(microsecond=0)),
        event("Created", "after", started.replace(second=48, microsecond=0)),
        NS(
            reason="Started",
            message="new-style event",
            last_timestamp=None,
            event_time=started,
            metadata=None,
        ),
    ]
    pod = FakePod(FakeManifest("upgrade-plain"), [])

    lines = world.check()._events(pod, started)  # type: ignore[arg-type]

    assert lines == (
        "event Killing: the swap's own second",
        "event Created: after",
        "event Started: new-style event",
    )
    assert world.core.event_queries == [("default", f"involvedObject.name=upgrade-plain-{NODE}")]


def test_several_hops_are_a_record_each_chained_from_version_to_version(world: Setup) -> None:
    middle = "v1.30.99"

    records = world.check().run(b"kubelet-FROM", [Hop(middle, b"kubelet-MID"), Hop(TO, b"kubelet-TO")])

    assert [(r.from_version, r.to_version) for r in records] == [(FROM, middle), (middle, TO)]
    puts = [line for line in world.log if line.startswith("put")]
    assert puts == ["put kubelet-FROM", "put kubelet-MID", "put kubelet-TO"]
    assert len([line for line in world.log if line.startswith("place upgrade-")]) == len(POD_SHAPES)
    assert [s.what for s in records[1].steps] == [
        "kubeadm upgrade node",
        f"kubelet {TO} in place, restarted",
        "node Ready",
        "pods settled",
    ]
    assert records[0].steps[1].time == records[0].swap_started
    assert all(len(r.behaviours) == 4 for r in records)


def test_a_hop_whose_node_never_got_ready_ends_the_check(world: Setup) -> None:
    world.never_ready = True

    records = world.check().run(b"kubelet-FROM", [Hop(TO, b"kubelet-TO"), Hop("v1.32.0", b"kubelet-NEXT")])

    assert len(records) == 1 and records[0].node_ready_seconds is None
    assert "put kubelet-NEXT" not in world.log


def test_the_users_pods_instead_of_the_built_in_shapes_are_watched_in_each_namespace(world: Setup) -> None:
    users = (FakeManifest("store", "kube-system"), FakeManifest("agent"))
    check = UpgradeCheck(world.cluster, world.pods, world.node, FROM, users, builtin=False)  # type: ignore[arg-type]

    (record,) = check.run(b"kubelet-FROM", [Hop(TO, b"kubelet-TO")])

    placed = [line for line in world.log if line.startswith("place")]
    assert placed[:2] == ["place store as kube-system-store.yaml", "place agent as default-agent.yaml"]
    run = users[0].labels[RUN_LABEL]
    assert users[1].labels == {RUN_LABEL: run}
    assert sorted((w.namespace, w.label_selector) for w in FakeReadyWatch.made) == [
        ("default", f"{RUN_LABEL}={run}"),
        ("kube-system", f"{RUN_LABEL}={run}"),
    ]
    assert record.user_pods == (f"kube-system/store-{NODE}", f"default/agent-{NODE}")
    assert [p.mirror_name for p in record.before] == [f"store-{NODE}", f"agent-{NODE}"]
