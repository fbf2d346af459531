"""A kubelet restart under running static pods: what it keeps, and what it runs again.

Sources: test/e2e_node/mirror_pod_test.go ("MirrorPod when kubelet restarts should not change container
status"), static_pod_test.go ("StaticPod when the static pod has init container should be ready after
init container is removed and kubelet restarts", "StaticPod when the static pod has sidecar container
should be ready after sidecar container is removed and kubelet restarts"); KEP-4781 (before 1.35, the feature
gate ChangeContainerStatusOnKubeletRestart is on and a restart turns Ready False until probes pass).
"""

import pytest

from harness.upgrade.observe import ReadyWatch
from harness.versions import KubeVersion

# After the new kubelet answers healthz, how long its first status updates are watched for
# (upstream watches 5 s more; the probes here run every 2 s).
STATUS_SETTLE = 10
FIRST_MINOR_KEEPING_READY = 35  # KEP-4781: ChangeContainerStatusOnKubeletRestart off by default


def kubelet_minor(cluster, node) -> int:
    return KubeVersion.parse(cluster.kubelet_versions()[node.name]).minor


@pytest.mark.disruptive
@pytest.mark.claim("S9", "confirmed")
def test_kubelet_restart_keeps_the_container_and_its_status_but_ready_flips_before_1_35(
    static_pods, cluster, record_observation
):
    """S9; mirror_pod_test.go "MirrorPod when kubelet restarts should not change container status" (1.35+);
    KEP-4781 for earlier kubelets (Ready False, then True again once the readiness probe passes)."""
    manifest = static_pods.manifest("upgrade-probes", prefix="restart")
    pod = static_pods.place(manifest.with_labels(app=manifest.name))
    _, container = pod.wait_up()
    watch = ReadyWatch(cluster.kubeconfig, pod.namespace, f"app={manifest.name}")

    with watch.running():
        pod.node.kubelet.restart()
        pod.assert_container_kept(container, window=STATUS_SETTLE)
        pod.wait_for_running_mirror()

    flips = [t.ready for t in watch.transitions[f"{pod.namespace}/{pod.mirror_name}"]]
    status = pod.mirror().status.container_statuses[0]
    assert status.container_id.endswith(container.id)
    assert (status.restart_count, status.started) == (0, True)
    if kubelet_minor(cluster, pod.node) >= FIRST_MINOR_KEEPING_READY:
        assert flips == [True], "Ready must never turn False across the restart"
        record_observation("Ready, Started and restartCount unchanged")
    else:
        assert flips == [True, False, True], "before 1.35 Ready turns False once, until the probe passes"
        record_observation("Ready False until the readiness probe passes; Started and restartCount unchanged")


@pytest.mark.disruptive
def test_init_container_removed_before_a_kubelet_restart_runs_again_and_completes(static_pods):
    """static_pod_test.go "StaticPod when the static pod has init container should be ready after init
    container is removed and kubelet restarts"."""
    pod = static_pods.place(static_pods.manifest("upgrade-init", prefix="init"))
    before = pod.wait_for_mirror(_init_terminated, "with its init container terminated")

    pod.node.crictl.remove(_container_id(before.status.init_container_statuses[0]))
    pod.node.kubelet.restart()

    after = pod.wait_for_mirror(
        lambda m: m.status.start_time != before.status.start_time and _init_terminated(m),
        "with a new start time and its init container terminated",
    )
    terminated = after.status.init_container_statuses[0].state.terminated
    assert (terminated.reason, terminated.exit_code) == ("Completed", 0)
    pod.wait_for_running_mirror()


@pytest.mark.disruptive
def test_sidecar_removed_while_the_kubelet_is_stopped_runs_again(static_pods):
    """static_pod_test.go "StaticPod when the static pod has sidecar container should be ready after
    sidecar container is removed and kubelet restarts" (a restartable init container)."""
    pod = static_pods.place(static_pods.manifest("upgrade-sidecar", prefix="sidecar"))
    before = pod.wait_for_mirror(_sidecar_running, "with its sidecar running")

    with pod.node.kubelet.stopped():
        pod.node.crictl.remove(_container_id(before.status.init_container_statuses[0]))

    pod.wait_for_mirror(
        lambda m: m.status.start_time != before.status.start_time and _sidecar_running(m),
        "with a new start time and its sidecar running",
    )
    assert pod.wait_running("sidecar")


def _init_terminated(mirror) -> bool:
    statuses = mirror.status.init_container_statuses or []
    return bool(statuses) and statuses[0].state.terminated is not None and bool(statuses[0].container_id)


def _sidecar_running(mirror) -> bool:
    statuses = mirror.status.init_container_statuses or []
    return bool(statuses) and statuses[0].state.running is not None and bool(statuses[0].container_id)


def _container_id(status) -> str:
    """The runtime's id of a container the mirror reports (`containerd://<id>`)."""
    return status.container_id.split("://", 1)[1]
