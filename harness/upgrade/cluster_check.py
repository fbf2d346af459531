"""SCOPE=cluster: the whole cluster at FROM upgraded the kubeadm way, one minor at a time.

kubeadm's "Upgrading kubeadm clusters": on the control-plane node the new kubeadm, `kubeadm upgrade
apply vX`, then the new kubelet and its restart; then each worker: the new kubeadm, `kubeadm upgrade
node`, the new kubelet and its restart. Before each hop the new kubeadm and the images it deploys are
put into every node (harness.upgrade.stage). The built-in and the user's static pods run on both nodes
throughout, each node's swap watched as in SCOPE=node (harness.upgrade.check), one record per node and
hop. An API prober (harness.upgrade.apiprobe) runs from before the first hop to after the last: the API
server's outages and kubeadm's control-plane pods go into the control-plane node's records. A ConfigMap
written before the first hop must read back unchanged after the last (etcd kept its data).
"""

from __future__ import annotations

import dataclasses
import functools
import posixpath
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from kubernetes import client as k8s

from harness.cluster.cluster import Cluster
from harness.node import Node
from harness.staticpods.manifest import Manifest, unique_name
from harness.staticpods.pods import StaticPods
from harness.upgrade import swap
from harness.upgrade.apiprobe import COMPONENTS, ApiProber, control_plane_pods, outages
from harness.upgrade.check import Hop, UpgradeCheck
from harness.upgrade.records import BehaviourResult, UpgradeRecord
from harness.upgrade.stage import UpgradeInputs

MANIFEST_DIR = "/etc/kubernetes/manifests"  # kubeadm's, on the control-plane node
DATA_NAMESPACE = "default"
ETCD_DATA = "etcd kept its data: a ConfigMap written before the upgrade reads back unchanged after it"


@dataclass
class ClusterUpgrade:
    cluster: Cluster
    pods: StaticPods
    from_version: str
    user_manifests: tuple[Manifest, ...] = ()
    builtin: bool = True

    def run(self, hops: Sequence[Callable[[], UpgradeInputs]]) -> tuple[UpgradeRecord, ...]:
        """Each hop's inputs are made when the hop starts (an export of images takes a while); two
        records per hop, the control-plane node's first. A node never Ready again ends the check."""
        control_plane, worker = self.cluster.control_plane, self.cluster.workers[0]
        checks = [
            UpgradeCheck(self.cluster, self.pods, node, self.from_version, self.user_manifests, self.builtin)
            for node in (control_plane, worker)
        ]
        runs = [unique_name("upgrade") for _ in checks]
        placed = [check.place(run) for check, run in zip(checks, runs, strict=True)]
        for pod in (p for node_pods in placed for p in node_pods):
            pod.wait_up()
        data = self._write_configmap()
        prober = ApiProber(self.cluster.api, control_plane.name)
        records: list[UpgradeRecord] = []
        version = self.from_version
        with prober.running():
            for make_inputs in hops:
                inputs = make_inputs()
                for node in (control_plane, worker):
                    swap.put_kubeadm(node, inputs.kubeadm)
                    swap.import_images(node, inputs.archive)
                hop = Hop(inputs.version.tag, inputs.kubelet)
                manifests = _manifest_times(control_plane)
                record = checks[0].hop(
                    placed[0], runs[0], version, hop, functools.partial(_apply, control_plane, inputs)
                )
                changed = {
                    c: after
                    for c, after in _manifest_times(control_plane).items()
                    if after[1] != manifests.get(c, (None, None))[1]
                }
                record = dataclasses.replace(
                    record,
                    control_plane=control_plane_pods(
                        prober.samples,
                        record.steps[0].time,
                        record.watch_ended,
                        {c: when for c, (when, _) in changed.items()},
                        {c: inputs.images.get(c, "") for c in COMPONENTS},
                    ),
                )
                records.append(record)
                if record.node_ready_seconds is None:
                    break
                record = checks[1].hop(placed[1], runs[1], version, hop, checks[1].kubeadm_upgrade_node)
                records.append(record)
                if record.node_ready_seconds is None:
                    break
                version = hop.version
        kept = self._read_configmap(data)
        records = [
            dataclasses.replace(r, api_outages=outages(prober.samples, r.steps[0].time, r.watch_ended))
            for r in records
        ]
        records[-1] = dataclasses.replace(records[-1], behaviours=(*records[-1].behaviours, kept))
        return tuple(records)

    def _write_configmap(self) -> k8s.V1ConfigMap:
        written = k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name=unique_name("upgrade-etcd-data")),
            data={"written": datetime.now(UTC).isoformat(), "payload": secrets.token_hex(64)},
        )
        return self.cluster.core.create_namespaced_config_map(DATA_NAMESPACE, written)

    def _read_configmap(self, written: k8s.V1ConfigMap) -> BehaviourResult:
        name = written.metadata.name
        try:
            read = self.cluster.core.read_namespaced_config_map(name, DATA_NAMESPACE)
            self.cluster.core.delete_namespaced_config_map(name, DATA_NAMESPACE)
        except k8s.ApiException as error:
            return BehaviourResult(ETCD_DATA, False, f"ConfigMap {name}: {error.status} {error.reason}")
        if read.data != written.data or read.metadata.uid != written.metadata.uid:
            return BehaviourResult(
                ETCD_DATA, False, f"ConfigMap {name} changed: {read.data} (uid {read.metadata.uid})"
            )
        return BehaviourResult(ETCD_DATA, True, f"ConfigMap {name} (uid {read.metadata.uid}) unchanged")


def _apply(node: Node, inputs: UpgradeInputs) -> str:
    swap.kubeadm_upgrade_apply(node, inputs.version)
    return f"kubeadm upgrade apply {inputs.version.tag}"


def _manifest_times(node: Node) -> dict[str, tuple[datetime, str]]:
    """Each kubeadm manifest's modification time and sha256 on `node`."""
    found = {}
    for component in COMPONENTS:
        path = posixpath.join(MANIFEST_DIR, f"{component}.yaml")
        out = node.run("sh", "-c", f'date -r "{path}" +%s.%N && sha256sum "{path}"').stdout.split()
        found[component] = (datetime.fromtimestamp(float(out[0]), UTC), out[1])
    return found
