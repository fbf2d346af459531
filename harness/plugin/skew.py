"""--sph-kubelet-version: a skewed cluster, every node's kubelet older than its control plane.

What a kubelet does is the kubelet's version's, not the API server's: tests branch on the version the
node reports (Cluster.kubelet_version), and this is how a run shows they do. See docs/running.md.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.cluster.cluster import Cluster
from harness.heartbeat import heartbeat
from harness.nodeimage.build import kubernetes_binaries
from harness.provision.provisioner import log
from harness.upgrade import swap
from harness.versions import KubeVersion


def kubelets_swapped(version: KubeVersion) -> Callable[[Cluster], None]:
    """What readies a new cluster: each node's kubelet replaced by `version`'s, the node Ready with it."""

    def swap_all(cluster: Cluster) -> None:
        binary = (kubernetes_binaries(version) / "kubelet").read_bytes()  # built once, then cached
        for node in cluster.nodes:
            with heartbeat(f"swapping {node.name}'s kubelet for {version.tag}", log):
                swap.put_kubelet(node, binary)
                swap.restart_until_ready(cluster, node, version.tag)

    return swap_all
