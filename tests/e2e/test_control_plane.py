"""The control plane kubeadm (and so kind) runs as static pods of the control-plane node's kubelet.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ (kubeadm's control plane runs as
static pods whose mirrors carry kubernetes.io/config.mirror); kubeadm's constants
(cmd/kubeadm/app/constants: manifests in /etc/kubernetes/manifests).
"""

import pytest

from harness.staticpods.manifest import CONFIG_MIRROR_ANNOTATION, CONFIG_SOURCE_ANNOTATION

CONTROL_PLANE = ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler")
KUBEADM_MANIFESTS = "/etc/kubernetes/manifests"


@pytest.mark.claim(
    "S1",
    "confirmed",
    "In a kubeadm cluster the control plane's manifests are in the "
    "control-plane kubelet's staticPodPath, /etc/kubernetes/manifests.",
)
@pytest.mark.claim("S6", "confirmed")
def test_control_plane_components_are_mirror_pods_of_kubeadms_manifests(kind_cluster_ready):
    """S1, S6; docs (kubeadm's control plane as static pods); kubeadm constants."""
    node = kind_cluster_ready.control_plane

    assert node.kubelet.static_pod_path() == KUBEADM_MANIFESTS
    assert {f"{c}.yaml" for c in CONTROL_PLANE} <= set(node.listdir(KUBEADM_MANIFESTS))
    for component in CONTROL_PLANE:
        mirror = kind_cluster_ready.core.read_namespaced_pod(f"{component}-{node.name}", "kube-system")
        assert mirror.metadata.annotations[CONFIG_SOURCE_ANNOTATION] == "file"
        assert CONFIG_MIRROR_ANNOTATION in mirror.metadata.annotations
        assert (mirror.status.phase, mirror.spec.node_name) == ("Running", node.name)
