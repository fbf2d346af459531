"""Static pods on several nodes: one mirror per node, named after it, and pods that reach each other.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ (the mirror's name is suffixed
with the node's hostname; a static pod is bound to one kubelet); pkg/kubelet/config/common.go
generatePodName; Kubernetes networking model (every pod reaches every other pod by its IP).
"""

import json

import pytest

from harness.staticpods.manifest import CONFIG_SOURCE_ANNOTATION

pytestmark = pytest.mark.kind_config("multi-node")


@pytest.mark.claim("S17", "confirmed")
def test_same_manifest_on_two_workers_gives_two_mirrors_named_after_each_worker(
    static_pods, kind_cluster_ready
):
    """S17; common.go generatePodName; docs (the mirror's name ends with the node's hostname)."""
    manifest = static_pods.manifest()

    pods = [static_pods.place(manifest, node=worker) for worker in kind_cluster_ready.workers]

    mirrors = [pod.wait_for_running_mirror() for pod in pods]
    assert [(m.metadata.name, m.spec.node_name) for m in mirrors] == [
        (f"{manifest.name}-{worker.name}", worker.name) for worker in kind_cluster_ready.workers
    ]
    assert all(m.metadata.annotations[CONFIG_SOURCE_ANNOTATION] == "file" for m in mirrors)


def test_static_pods_on_two_workers_reach_each_other_by_pod_ip(static_pods, kind_cluster_ready):
    """Kubernetes networking model; fixtures/images/testapp (`probe` answers with the pod that served)."""
    pods = [static_pods.place(static_pods.manifest(), node=worker) for worker in kind_cluster_ready.workers]
    ips = [pod.wait_for_running_mirror().status.pod_ip for pod in pods]

    for pod, other, ip in [(pods[0], pods[1], ips[1]), (pods[1], pods[0], ips[0])]:
        answer = pod.node.crictl.exec(pod.wait_running().id, "/testapp", "probe", f"http://{ip}:8080/")
        assert (json.loads(answer.stdout)["pod_name"], json.loads(answer.stdout)["node_name"]) == (
            other.mirror_name,
            other.node.name,
        )
