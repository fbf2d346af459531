"""A kubelet restart under running static pods: what it keeps, and what it runs again.

Sources: test/e2e_node/mirror_pod_test.go ("MirrorPod when kubelet restarts should not change container
status"), static_pod_test.go ("StaticPod when the static pod has init container should be ready after
init container is removed and kubelet restarts", "StaticPod when the static pod has sidecar container
should be ready after sidecar container is removed and kubelet restarts"); KEP-4781 (before 1.35, the feature
gate ChangeContainerStatusOnKubeletRestart is on and a restart turns Ready False until probes pass).
"""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from harness.staticpods.ready_watch import ReadyWatch
from harness.versions import Behaviour
from harness.waiting import hold_for, poll_until

# After the new kubelet answers healthz, how long its first status updates are watched for
# (upstream watches 5 s more; the probes here run every 2 s).
STATUS_SETTLE = 10
# From 1.35 the kubelet keeps the probe results only of containers that started at least this long
# before it did (prober_manager.go kubeletRestartGracePeriod); upstream's test waits 11 s for it.
RESTART_GRACE = 10
RESTART_TRIES = 3


@pytest.mark.disruptive
@pytest.mark.claim("S9", "confirmed")
def test_kubelet_restart_keeps_the_container_and_its_restart_count_and_from_1_35_its_status(
    static_pods, kind_cluster_ready, record_observation, record_measurement
):
    """S9; mirror_pod_test.go "MirrorPod when kubelet restarts should not change container status" (1.35+:
    Ready, Started and restartCount never change). Before 1.35 (KEP-4781: the feature gate
    ChangeContainerStatusOnKubeletRestart is on) the new kubelet runs the probes from scratch and may
    report Started or Ready False until they pass.

    From 1.35 the new kubelet keeps Ready only where it finds the pod Ready; a static pod's status comes
    from its mirror, which the kubelet may not have read yet when it first syncs the pod (KEP-4781's
    design reads the status "via the API server"): then Ready resets until the probe passes (seen on
    1.37.2, about 2 s after the restart, under load). Such a restart is recorded and the kubelet is
    restarted again, up to RESTART_TRIES times: the contract must hold in one of them."""
    manifest = static_pods.manifest("startup-probes")
    pod = static_pods.place(manifest.with_labels(app=manifest.name))
    _, container = pod.wait_up()
    started_at = pod.node.crictl.status(container.id).started_at
    poll_until(
        lambda: datetime.now(UTC) - started_at > timedelta(seconds=RESTART_GRACE + 1),
        timeout=RESTART_GRACE + 5,
        expected=f"container {container.name} running for longer than the kubelet's {RESTART_GRACE} s grace",
    )
    keeps_status = kind_cluster_ready.kubelet_version(pod.node.name).has(
        Behaviour.KEEPS_STATUS_ACROSS_RESTART
    )

    tries = []
    while not tries or (keeps_status and not all(ok for ok, _ in tries[-1]) and len(tries) < RESTART_TRIES):
        tries.append(_seen_across_a_kubelet_restart(pod, container, kind_cluster_ready, manifest.name))
    record_measurement("started_and_ready_seen", tries)
    status = pod.mirror().status.container_statuses[0]
    assert (status.container_id.endswith(container.id), status.restart_count) == (True, 0)
    if keeps_status:
        assert [ok for ok, _ in tries[-1]] == [True], (
            f"Started and Ready turned False across each of {len(tries)} kubelet restarts: {tries}"
        )
        record_observation(
            "Ready, Started and restartCount never change"
            + (f" (in {len(tries) - 1} restart(s) before, Ready or Started reset)" if len(tries) > 1 else "")
        )
    else:
        # Ready and Started each reset at most once, until their probes pass; the kubelet may publish
        # the two resets in one status update or in two (soak: Ready False, back, then Started False).
        (seen,) = tries
        said = [text for _, text in seen]
        assert seen[0][0] and seen[-1][0], f"Started and Ready before and after the restart: {seen}"
        assert max(resets(said, "ready"), resets(said, "started")) <= 1, f"each reset at most once: {seen}"
        record_observation("restartCount never changes; Started or Ready may be reset until probes pass")


def _seen_across_a_kubelet_restart(pod, container, cluster, app: str) -> list[tuple[bool, str]]:
    """The mirror's Started and Ready, as a watch saw them change, across one kubelet restart."""
    watch = ReadyWatch(cluster.kubeconfig, pod.namespace, f"app={app}", started_and_ready)
    with watch.running():
        pod.node.kubelet.restart()
        pod.assert_container_kept(container, window=STATUS_SETTLE)
        pod.wait_for_mirror(lambda m: started_and_ready(m)[0], "with its container Started and Ready")
    return [(t.ready, t.reason) for t in watch.transitions[f"{pod.namespace}/{pod.mirror_name}"]]


def resets(said: list[str], field: str) -> int:
    """How many times `field` ("ready", "started") turned False in a run of started_and_ready texts."""
    false = [f"{field}=False" in text for text in said]
    return sum(now and not before for before, now in itertools.pairwise(false))


def started_and_ready(mirror) -> tuple[bool, str]:
    """Whether every container of the mirror is Started and Ready, and what it says of each."""
    statuses = mirror.status.container_statuses or []
    said = ", ".join(f"{s.name}: started={s.started} ready={s.ready}" for s in statuses)
    return bool(statuses) and all(s.started and s.ready for s in statuses), said


@pytest.mark.disruptive
def test_init_container_removed_before_a_kubelet_restart_leaves_the_mirror_in_init_before_1_36(
    static_pods, kind_cluster_ready, record_observation
):
    """k/k #108537 (a static pod's status is rebuilt from the runtime alone: with its completed init
    container gone, the mirror says Init:0/1 for good while the app runs on), fixed in 1.36 by PR #131317,
    which added static_pod_test.go "StaticPod when the static pod has init container should be ready
    after init container is removed and kubelet restarts"."""
    pod = static_pods.place(static_pods.manifest("upgrade-init", prefix="init"))
    before = pod.wait_for_mirror(_init_completed, "with its init container Completed")
    _, app = pod.wait_up()

    pod.node.crictl.remove(_container_id(before.status.init_container_statuses[0]))
    pod.node.kubelet.restart()

    if kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.REBUILDS_INIT_STATUS):
        pod.wait_for_mirror(_init_completed, "with its init container Completed again")
        pod.wait_for_running_mirror()
        record_observation("the init container counts as Completed; the pod is Running")
    else:
        pod.wait_for_mirror(_stuck_in_init, "Pending with its init container waiting (PodInitializing)")
        hold_for(
            lambda: _stuck_in_init(pod.mirror()),
            window=pod.resync_window(syncs=1),
            unchanged_from=True,
            expected="the mirror still Pending in Init through a periodic sync",
        )
        pod.assert_container_kept(app)
        record_observation("the mirror stays Pending in Init:0/1 while the app container runs")


@pytest.mark.disruptive
def test_sidecar_removed_while_the_kubelet_is_stopped_runs_again(static_pods, record_observation):
    """static_pod_test.go "StaticPod when the static pod has sidecar container should be ready after
    sidecar container is removed and kubelet restarts" (a restartable init container)."""
    pod = static_pods.place(static_pods.manifest("upgrade-sidecar", prefix="sidecar"))
    before = pod.wait_for_mirror(_sidecar_running, "with its sidecar running")
    sidecar, app = pod.wait_running("sidecar"), pod.wait_running("app")

    with pod.node.kubelet.stopped():
        removed_at = datetime.now(UTC).replace(microsecond=0)  # startedAt has whole seconds
        pod.node.crictl.remove(sidecar.id)

    pod.wait_running("sidecar", other_than=sidecar)
    after = pod.wait_for_mirror(
        lambda m: (
            _sidecar_running(m) and not m.status.init_container_statuses[0].container_id.endswith(sidecar.id)
        ),
        "with its new sidecar running",
    )
    pod.assert_container_kept(app)
    assert after.status.init_container_statuses[0].state.running.started_at >= removed_at  # a new start
    # The pod's startTime is the mirror's if the kubelet knows the mirror at its first status update after
    # the restart, else a new one (status_manager.go updateStatusInternal): an observation, not a contract.
    new_start = after.status.start_time != before.status.start_time
    record_observation("the pod got a new start time" if new_start else "the pod kept its start time")


def _init_completed(mirror) -> bool:
    statuses = mirror.status.init_container_statuses or []
    terminated = statuses[0].state.terminated if statuses else None
    return terminated is not None and (terminated.reason, terminated.exit_code) == ("Completed", 0)


def _stuck_in_init(mirror) -> bool:
    waiting = (mirror.status.init_container_statuses or [None])[0]
    return (
        mirror.status.phase == "Pending"
        and waiting is not None
        and waiting.state.waiting is not None
        and waiting.state.waiting.reason == "PodInitializing"
    )


def _sidecar_running(mirror) -> bool:
    statuses = mirror.status.init_container_statuses or []
    return bool(statuses) and statuses[0].state.running is not None and bool(statuses[0].container_id)


def _container_id(status) -> str:
    """The runtime's id of a container the mirror reports (`containerd://<id>`)."""
    return status.container_id.split("://", 1)[1]
