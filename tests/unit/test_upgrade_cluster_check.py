"""SCOPE=cluster's orchestration (harness.upgrade.cluster_check.ClusterUpgrade) with the per-node swap,
the prober, the nodes and the API faked: the kubeadm order, the data check and what each record gets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as NS
from typing import Any

import pytest
from kubernetes import client as k8s

from harness.upgrade import cluster_check
from harness.upgrade.apiprobe import Sample
from harness.upgrade.check import Hop
from harness.upgrade.cluster_check import ETCD_DATA, ClusterUpgrade
from harness.upgrade.records import BehaviourResult, MirrorSeen, Step, UpgradeRecord
from harness.upgrade.stage import UpgradeInputs
from harness.versions import KubeVersion

T0 = datetime(2026, 12, 6, 7, 0, tzinfo=UTC)
CP, WORKER = "upgrade-control-plane", "upgrade-worker"


class World:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log: list[str] = []
        self.clock = T0
        self.stored: dict[str, k8s.V1ConfigMap] = {}
        self.manifest_reads = 0
        self.core = NS(
            create_namespaced_config_map=self.create,
            read_namespaced_config_map=lambda name, ns: self.stored[name],
            delete_namespaced_config_map=lambda name, ns: self.log.append(f"delete configmap {name}"),
        )
        self.cluster = NS(control_plane=NS(name=CP), workers=[NS(name=WORKER)], core=self.core, api=object())
        world = self

        class FakeCheck:
            def __init__(self, cluster: Any, pods: Any, node: Any, *rest: Any) -> None:
                self.node = node

            def place(self, run: str) -> list[Any]:
                world.log.append(f"place on {self.node.name}")
                return [NS(wait_up=lambda: None)]

            def kubeadm_upgrade_node(self) -> str:
                world.log.append(f"kubeadm upgrade node on {self.node.name}")
                return "kubeadm upgrade node"

            def hop(
                self, placed: Any, run: str, version: str, hop: Hop, kubeadm: Callable[[], str]
            ) -> UpgradeRecord:
                start = world.tick()
                step = kubeadm()
                world.log.append(f"kubelet {hop.version} ({hop.kubelet!r}) on {self.node.name}")
                return UpgradeRecord(
                    from_version=version,
                    to_version=hop.version,
                    node=self.node.name,
                    swap_started=start,
                    watch_ended=world.tick(),
                    node_ready_seconds=1.0,
                    before=(),
                    after=(),
                    observations=(),
                    behaviours=(BehaviourResult("a new manifest runs", True),),
                    steps=(Step(start, step),),
                )

        class FakeProber:
            def __init__(self, api: Any, node_name: str) -> None:
                seen = MirrorSeen(T0, "a1", "h1", True, "registry.k8s.io/kube-apiserver:v1.36.4")
                self.samples = [
                    Sample(T0, True, True, (("kube-apiserver", seen),)),
                    Sample(T0 + timedelta(seconds=12), False, False, ()),
                    Sample(T0 + timedelta(seconds=14), True, True, ()),
                ]

            @contextmanager
            def running(self) -> Iterator[FakeProber]:
                world.log.append("prober starts")
                yield self
                world.log.append("prober stops")

        def manifest_times(node: Any) -> dict[str, tuple[datetime, str]]:
            self.manifest_reads += 1
            changed = self.manifest_reads % 2 == 0
            return {"kube-apiserver": (T0 + timedelta(seconds=11), "new" if changed else "old")}

        monkeypatch.setattr(cluster_check, "UpgradeCheck", FakeCheck)
        monkeypatch.setattr(cluster_check, "ApiProber", FakeProber)
        monkeypatch.setattr(cluster_check, "_manifest_times", manifest_times)
        monkeypatch.setattr(
            cluster_check.swap, "put_kubeadm", lambda n, b: self.log.append(f"kubeadm {b!r} on {n.name}")
        )
        monkeypatch.setattr(
            cluster_check.swap, "import_images", lambda n, a: self.log.append(f"images {a!r} on {n.name}")
        )
        monkeypatch.setattr(
            cluster_check.swap,
            "kubeadm_upgrade_apply",
            lambda n, v: self.log.append(f"apply {v} on {n.name}"),
        )

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=10)
        return self.clock

    def create(self, namespace: str, body: k8s.V1ConfigMap) -> k8s.V1ConfigMap:
        self.log.append("write configmap")
        body.metadata.uid = "cm-uid"
        self.stored[body.metadata.name] = body
        return body


def inputs(version: str) -> Callable[[], UpgradeInputs]:
    v = KubeVersion.parse(version)
    return lambda: UpgradeInputs(
        v, f"kubeadm-{v}".encode(), f"kubelet-{v}".encode(), {}, f"images-{v}".encode()
    )


def test_each_hop_upgrades_the_control_plane_node_first_then_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(monkeypatch)

    records = ClusterUpgrade(world.cluster, NS(), "v1.35.8").run([inputs("1.36.4"), inputs("1.37.2")])  # type: ignore[arg-type]

    hop = [line for line in world.log if "1.36.4" in line]
    assert hop == [
        f"kubeadm b'kubeadm-1.36.4' on {CP}",
        f"images b'images-1.36.4' on {CP}",
        f"kubeadm b'kubeadm-1.36.4' on {WORKER}",
        f"images b'images-1.36.4' on {WORKER}",
        f"apply 1.36.4 on {CP}",
        f"kubelet v1.36.4 (b'kubelet-1.36.4') on {CP}",
        f"kubelet v1.36.4 (b'kubelet-1.36.4') on {WORKER}",
    ]
    assert world.log[:4] == [f"place on {CP}", f"place on {WORKER}", "write configmap", "prober starts"]
    assert world.log.index("prober stops") > world.log.index(
        f"kubelet v1.37.2 (b'kubelet-1.37.2') on {WORKER}"
    )
    assert [(r.node, r.from_version, r.to_version) for r in records] == [
        (CP, "v1.35.8", "v1.36.4"),
        (WORKER, "v1.35.8", "v1.36.4"),
        (CP, "v1.36.4", "v1.37.2"),
        (WORKER, "v1.36.4", "v1.37.2"),
    ]
    assert [s.what for s in records[1].steps] == ["kubeadm upgrade node"]
    assert records[0].steps[0].what == "kubeadm upgrade apply v1.36.4"


def test_the_control_plane_nodes_records_get_kubeadms_pods_and_the_outages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(monkeypatch)

    first, worker = ClusterUpgrade(world.cluster, NS(), "v1.35.8").run([inputs("1.36.4")])  # type: ignore[arg-type]

    components = {c.component: c for c in first.control_plane}
    assert sorted(components) == ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert components["kube-apiserver"].manifest_changed == T0 + timedelta(seconds=11)
    assert components["kube-scheduler"].manifest_changed is None
    assert worker.control_plane == ()
    assert [(o.what, o.start, o.end) for o in first.api_outages] == [
        ("readyz", T0 + timedelta(seconds=12), T0 + timedelta(seconds=14)),
        ("request", T0 + timedelta(seconds=12), T0 + timedelta(seconds=14)),
    ]


def test_the_configmap_reads_back_unchanged_as_the_last_behaviour(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch)

    records = ClusterUpgrade(world.cluster, NS(), "v1.35.8").run([inputs("1.36.4")])  # type: ignore[arg-type]

    last = records[-1].behaviours[-1]
    assert (last.behaviour, last.passed) == (ETCD_DATA, True)
    assert last.detail.endswith("(uid cm-uid) unchanged")
    assert all(ETCD_DATA not in (b.behaviour for b in r.behaviours) for r in records[:-1])


def test_a_changed_configmap_fails_the_data_check(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World(monkeypatch)
    world.core.read_namespaced_config_map = lambda name, ns: k8s.V1ConfigMap(
        metadata=k8s.V1ObjectMeta(name=name, uid="cm-uid"), data={"payload": "other"}
    )

    records = ClusterUpgrade(world.cluster, NS(), "v1.35.8").run([inputs("1.36.4")])  # type: ignore[arg-type]

    last = records[-1].behaviours[-1]
    assert (last.behaviour, last.passed) == (ETCD_DATA, False) and "changed" in last.detail
