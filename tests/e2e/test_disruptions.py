"""Static pods while the kubelet, the API server or containerd are away.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ (kubeadm's control plane runs as
static pods: they need no API server); test/e2e_node/standalone_test.go (a kubelet with no API server
runs static pods); mirror_pod_test.go ("MirrorPod when kubelet restarts should not change container status");
mirror_pod_grace_period_test.go (the runtime down and back); pkg/kubelet/config/file.go (the first
listing when the kubelet starts).
"""

from datetime import UTC, datetime

import pytest

from harness.staticpods.control_plane import (
    api_server_containers,
    api_server_ready,
    api_server_stopped,
    control_plane_restored,
)
from harness.waiting import poll_until

# The kubelet is stopped, so nothing can change: a short hold shows no mirror pod appears.
KUBELET_STOPPED_WINDOW = 10
READ_ONLY_PORT = 10255  # the kubelet's conventional read-only port, as upstream's standalone tests read
KUBELET_POD_TIMEOUT = 120


@pytest.mark.disruptive
@pytest.mark.claim("S21", "confirmed")
@pytest.mark.claim("S9", "confirmed")
def test_manifest_added_while_the_kubelet_is_stopped_runs_once_it_is_back(static_pods):
    """S21, S9; file.go run (the path is listed as soon as the kubelet starts)."""
    node = static_pods.default_node()

    with node.kubelet.stopped():
        pod = static_pods.place(static_pods.manifest(), node=node)
        pod.assert_never_started(window=KUBELET_STOPPED_WINDOW)

    pod.wait_running()
    pod.wait_for_running_mirror()


@pytest.mark.disruptive
@pytest.mark.claim("S9", "confirmed")
def test_manifest_changed_while_the_kubelet_is_stopped_is_applied_once_it_is_back(static_pods):
    """S9; file.go run; common.go applyDefaults (new content, new UID: a new pod)."""
    pod = static_pods.place(static_pods.manifest())
    old_mirror, old = pod.wait_up()

    with pod.node.kubelet.stopped():
        pod.rewrite(pod.manifest.with_labels(version="2"))

    pod.wait_running(other_than=old)
    assert pod.wait_for_new_mirror(old_mirror.metadata.uid).metadata.labels["version"] == "2"


@pytest.mark.disruptive
@pytest.mark.claim("S9", "confirmed")
def test_manifest_removed_while_the_kubelet_is_stopped_stops_the_pod_once_it_is_back(static_pods):
    """S9; unknown_pods_test.go "the static pod should be terminated and cleaned up due to becoming a unknown
    pod due to being force deleted while kubelet is not running"; kubelet.go HandlePodCleanups (pods no source
    wants are killed, orphaned mirrors deleted)."""
    pod = static_pods.place(static_pods.manifest())
    pod.wait_up()

    with pod.node.kubelet.stopped():
        pod.remove_file()

    pod.wait_for_mirror_gone()
    pod.wait_containers_removed()


@pytest.mark.disruptive
@pytest.mark.claim("S5", "confirmed")
def test_static_pods_run_while_the_api_server_is_down_and_get_mirrors_once_it_is_back(
    static_pods, kind_cluster_ready
):
    """S5; docs (kubeadm's control plane is static pods); standalone_test.go; tryReconcileMirrorPods."""
    running = static_pods.place(static_pods.manifest())
    _, container = running.wait_up()

    with api_server_stopped(kind_cluster_ready):
        assert_api_server_gone(kind_cluster_ready)
        placed = static_pods.place(static_pods.manifest())
        placed.wait_running()
        running.assert_container_kept(container)
    api_back = datetime.now(UTC)

    mirror = placed.wait_for_running_mirror()
    assert mirror.metadata.creation_timestamp >= api_back.replace(microsecond=0)  # none during the outage
    running.wait_for_running_mirror()


@pytest.mark.disruptive
def test_kubelet_restarted_without_api_server_applies_a_replaced_manifest_before_the_api_server_is_back(
    static_pods, kind_cluster_ready, record_observation
):
    """k/k #105543, #116880, #109596 (with the API source not ready after a restart, deletions wait:
    "skipping delete because sources aren't ready yet"); file.go (the first listing at start)."""
    pod = static_pods.place(static_pods.manifest(), node=kind_cluster_ready.control_plane)
    old_mirror, old = pod.wait_up()

    with api_server_stopped(kind_cluster_ready):
        with pod.node.kubelet.stopped():
            pod.rewrite(pod.manifest.with_labels(version="2"))
        new = pod.wait_running(other_than=old)
        old_still_runs = pod.node.crictl.containers(state="running", name="app", pod=old.pod_sandbox_id) != []

    assert pod.wait_for_new_mirror(old_mirror.metadata.uid).metadata.labels["version"] == "2"
    pod.assert_container_kept(new)
    assert pod.node.crictl.containers(state="running", pod=old.pod_sandbox_id) == []
    record_observation(
        "the old pod was still running when the replacement ran, the API server down"
        if old_still_runs
        else "the old pod had stopped when the replacement ran"
    )


@pytest.mark.disruptive
def test_kubelet_lists_its_static_pods_on_its_own_pods_endpoint_while_the_api_server_is_down(
    kubelet_reconfigured, static_pods, kind_cluster_ready
):
    """standalone_test.go "the pod should be running" (read from the kubelet's read-only /pods endpoint);
    kubelet-config readOnlyPort (off by default; turned on once the API server is down, since the kubelet
    drops a manifest removal that comes within a second or so of its restart: k/k #116880, docs/parity.md)."""
    node = kind_cluster_ready.control_plane

    with api_server_stopped(kind_cluster_ready):
        kubelet_reconfigured(node, readOnlyPort=READ_ONLY_PORT)
        pod = static_pods.place(static_pods.manifest(), node=node)
        listed = poll_until(
            lambda: _running_in(node.kubelet.read_only_pods(READ_ONLY_PORT), pod.mirror_name),
            timeout=KUBELET_POD_TIMEOUT,
            expected=f"{pod.mirror_name} Running and Ready on the kubelet's /pods",
        )

    assert listed["metadata"]["annotations"]["kubernetes.io/config.source"] == "file"


def assert_api_server_gone(cluster) -> None:
    """No kube-apiserver container runs on the control plane, and it does not answer /readyz."""
    assert api_server_containers(cluster.control_plane) == []
    assert not api_server_ready(cluster.api)


def _running_in(pods: list[dict], name: str) -> dict | None:
    for pod in pods:
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if pod["metadata"]["name"] == name and pod["status"].get("phase") == "Running":
            return pod if conditions.get("Ready") == "True" else None
    return None


@pytest.mark.disruptive
def test_static_pod_runs_again_after_a_containerd_restart_and_its_mirror_agrees(
    static_pods, kind_cluster_ready
):
    """mirror_pod_grace_period_test.go (runtime down and back); kubelet PLEG and status manager. Whether the
    container survives is the runtime's affair: containerd 2.3 (kind v0.33.0's, and the offline image's)
    keeps every running sandbox across its restart (three restarts by hand: the control plane's sandboxes
    and containers unchanged); containerd 1.7 cleaned some up as "leaked shims", the API server's too,
    which came back about 30 s later. So the mirror is read only once the control plane's static pods
    run in ready sandboxes and the API server is ready."""
    pod = static_pods.place(static_pods.manifest())
    pod.wait_up()

    with control_plane_restored(kind_cluster_ready):
        pod.node.service("containerd").restart()

    pod.assert_container_kept(pod.wait_mirror_agrees())
