"""Where the kubelet looks for static pods: staticPodPath, its flag form, a single file, nothing at all.

Sources: kubelet configuration reference kubelet-config.v1beta1 (staticPodPath: default empty, a
directory or a single file; kubeadm sets /etc/kubernetes/manifests); docs "Create static Pods"
(--pod-manifest-path is the deprecated flag form); pkg/kubelet/config/file.go listConfig.
All run on the multi-node cluster. Reconfiguring a kubelet is done on its first worker (the
control-plane kubelet's staticPodPath holds the control plane itself); its second worker's kubelet
reads static pods from the path its flag names.
"""

import posixpath
from datetime import UTC, datetime

import pytest

from harness.node.kubelet import WHOLE_JOURNAL
from harness.staticpods.manifest import unique_name

CUSTOM_PATH = "/etc/kubelet.d"  # kind-configs/multi-node.yaml, the second worker's --pod-manifest-path


@pytest.mark.kind_config("multi-node")
@pytest.mark.claim("S2", "confirmed")
def test_pod_manifest_path_flag_sets_where_the_kubelet_reads_static_pods(static_pods, kind_cluster_ready):
    """S2; docs (--pod-manifest-path, the deprecated flag form of staticPodPath); kubelet /configz."""
    node = kind_cluster_ready.workers[1]

    pod = static_pods.place(static_pods.manifest(), node=node)

    mirror = pod.wait_for_running_mirror()
    assert (pod.path, mirror.spec.node_name) == (f"{CUSTOM_PATH}/{pod.name}.yaml", node.name)
    assert node.kubelet.static_pod_path() == CUSTOM_PATH
    assert kind_cluster_ready.kubelet_configz(node.name)["staticPodPath"] == CUSTOM_PATH
    node.kubelet.wait_for_log(WHOLE_JOURNAL, "Flag --pod-manifest-path has been deprecated", timeout=0)


@pytest.mark.disruptive
@pytest.mark.kind_config("multi-node")
@pytest.mark.claim("S2", "confirmed")
def test_static_pod_path_may_name_a_single_file(kubelet_reconfigured, static_pods):
    """S2; kubelet-config.v1beta1 staticPodPath ("a directory or a single file"); file.go listConfig."""
    node, path = static_pods.default_node(), f"/etc/kubernetes/{unique_name('single')}.yaml"
    kubelet_reconfigured(node, staticPodPath=path)

    pod = static_pods.place(static_pods.manifest(), node=node, filename=path)

    pod.wait_for_running_mirror()
    assert node.kubelet.static_pod_path() == path


@pytest.mark.disruptive
@pytest.mark.kind_config("multi-node")
def test_missing_static_pod_path_is_tolerated_and_read_once_it_exists(
    kubelet_reconfigured, node_dirs, static_pods
):
    """file.go listConfig ("path does not exist, ignoring") and its periodic re-list."""
    node, path, since = static_pods.default_node(), f"/etc/{unique_name('absent')}", datetime.now(UTC)
    kubelet_reconfigured(node, staticPodPath=path)
    node.kubelet.wait_for_log(
        since,
        "path does not exist, ignoring",
        path,
        timeout=node.kubelet.file_check_frequency() * 2,
    )

    node_dirs(node, path)
    pod = static_pods.place(static_pods.manifest(), node=node)

    pod.wait_for_running_mirror()


@pytest.mark.disruptive
@pytest.mark.kind_config("multi-node")
@pytest.mark.claim(
    "S1",
    "partly",
    "The kubelet's own default staticPodPath is empty (no static pods at all); "
    "/etc/kubernetes/manifests is what kubeadm, and so kind, configures.",
)
@pytest.mark.claim("S21", "confirmed")
def test_kubelet_without_static_pod_path_runs_no_static_pods(
    kubelet_reconfigured, static_pods, kind_cluster_ready
):
    """S1, S21; kubelet-config.v1beta1 (staticPodPath defaults to ""); kubeadm's /etc/kubernetes/manifests."""
    node = static_pods.default_node()
    kubeadm_dir = static_pods.manifest_dir(node)
    kubelet_reconfigured(node, staticPodPath=None)
    assert not kind_cluster_ready.kubelet_configz(node.name).get("staticPodPath")
    manifest = static_pods.manifest()

    pod = static_pods.place(
        manifest, node=node, filename=posixpath.join(kubeadm_dir, f"{manifest.name}.yaml")
    )

    pod.assert_never_started()
