"""What users hit in the field with static pods (kubernetes/kubernetes issues of 2023-2026), a test an issue.

Each records what the kubelet (and the API server, for the mirror) does; where a version's behaviour is
known to differ, it is asserted per version (harness/versions.py). Sources: the issues cited per test;
pkg/kubelet/config/common.go (applyDefaults: the UID is a hash of the whole manifest unless the manifest
sets one; getStaticPodPriorityWarning); plugin/pkg/admission/priority (a mirror pod is a pod: its
priority is resolved from its class); pkg/apis/core/validation ValidatePodResize.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from harness.node.kubelet import WHOLE_JOURNAL
from harness.staticpods.control_plane import api_server_stopped
from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION as HASH
from harness.staticpods.manifest import Manifest, unique_name
from harness.staticpods.mirror_checks import assert_valid_mirror
from harness.staticpods.outcome import wait_outcome
from harness.versions import Behaviour
from harness.waiting import HoldBroken, deliberate, hold_for, poll_until

HTTP_NOT_FOUND = 404
HTTP_UNPROCESSABLE = 422
# What the manifest edit of k/k #136931 changes, and how the new mirror shows it.
EDITS: dict[str, tuple[Callable[[dict], None], Callable[[k8s.V1Pod], object]]] = {
    "command": (
        lambda pod: pod["spec"]["containers"][0].update(command=["/testapp"]),
        lambda m: m.spec.containers[0].command,
    ),
    "args": (
        lambda pod: pod["spec"]["containers"][0].update(
            args=["serve", "--listen=:8080", "--version-label=2"]
        ),
        lambda m: m.spec.containers[0].args[-1],
    ),
    "volumes": (
        lambda pod: (
            pod["spec"].update(volumes=[{"name": "scratch", "emptyDir": {}}]),
            pod["spec"]["containers"][0].update(volumeMounts=[{"name": "scratch", "mountPath": "/scratch"}]),
        ),
        lambda m: [v.name for v in m.spec.volumes or []],
    ),
}
EDITED = {"command": ["/testapp"], "args": "--version-label=2", "volumes": ["scratch"]}
# The kubelet's warnings for priority fields in a static pod (k/k PR #136705), each logged once a process.
PRIORITY_ONLY_WARNING = "Static pod has priority without priorityClassName"
CLASS_ONLY_WARNING = "Static pod has priorityClassName and nil priority"
# A window in which a deleted mirror of a finished pod would be back: a periodic sync at syncFrequency
# SYNC_FREQUENCY (with its jitter) and the API calls after it.
SYNC_FREQUENCY = "10s"
SYNC_MARGIN = 5


def edited(manifest: Manifest, edit: Callable[[dict], object]) -> Manifest:
    pod = manifest.to_dict()
    edit(pod)
    return Manifest(pod)


def changes_within(probe: Callable[[], object], start: object, window: float, expected: str) -> object | None:
    """What `probe` turned into from `start` within `window` seconds, or None when it held `start`."""
    try:
        hold_for(probe, window=window, unchanged_from=start, expected=expected)
    except HoldBroken as broken:
        return broken.seen
    return None


@pytest.mark.parametrize("field", EDITS)
def test_an_edit_of_only_command_args_or_volumes_replaces_the_pod(
    static_pods, kind_cluster_ready, field, record_observation
):
    """k/k #136931 (closed: its cause was a backup copy in the manifest directory, k/k #136962);
    kubernetes/website #54427 (any change to the manifest makes a new pod); common.go applyDefaults
    (the UID is a hash of the whole pod)."""
    pod = static_pods.place(static_pods.manifest())
    old, container = pod.wait_up()
    edit, shown = EDITS[field]

    pod.rewrite(edited(pod.manifest, edit))

    pod.wait_replaced(old.metadata.annotations[HASH])
    new = pod.wait_for_new_mirror(old.metadata.uid)
    assert shown(new) == EDITED[field]
    pod.wait_running(other_than=container)
    assert_valid_mirror(kind_cluster_ready.core, pod.wait_for_running_mirror())
    record_observation(f"a {field} edit replaces the pod (new UID, new mirror)")


def test_a_hostpath_pod_is_replaced_on_an_update(static_pods, record_observation, record_measurement):
    """k/k #134908, #126711 (a static pod with hostPath volumes stuck on "Wait unmounted volumes" during an
    update); fixtures/manifests/upgrade-hostpath.yaml."""
    pod = static_pods.place(static_pods.manifest("upgrade-hostpath", prefix="hostpath"))
    old, container = pod.wait_up()
    edited_at = datetime.now(UTC)

    pod.rewrite(pod.manifest.with_labels(version="2"))

    pod.wait_replaced(old.metadata.annotations[HASH])
    new = pod.wait_for_new_mirror(old.metadata.uid)
    pod.wait_running(other_than=container)
    pod.wait_for_running_mirror()
    record_measurement("replaced_after_seconds", round((datetime.now(UTC) - edited_at).total_seconds(), 1))
    assert new.metadata.labels["version"] == "2"
    record_observation("replaced; its hostPath volume did not hold the update up")


def test_priority_without_a_class_runs_the_pod_but_its_mirror_is_refused(
    static_pods, kind_cluster_ready, record_observation
):
    """k/k #133535 (kubelet warnings since PR #136705); plugin/pkg/admission/priority ("the integer value
    of priority must not be provided in pod spec" unless its class computes the same)."""
    since = datetime.now(UTC)

    pod = static_pods.place(static_pods.manifest().with_spec(priority=5))

    pod.wait_running()
    pod.wait_for_log(since, "Failed creating a mirror pod", "must not be provided in pod spec")
    assert pod.mirror() is None
    if kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.STATIC_POD_PRIORITY_WARNINGS):
        pod.node.kubelet.wait_for_log(WHOLE_JOURNAL, PRIORITY_ONLY_WARNING, timeout=0)
        record_observation("the pod runs; the API server refuses its mirror; the kubelet warns")
    else:
        record_observation("the pod runs; the API server refuses its mirror")


def test_priority_class_name_gets_the_mirror_refused_until_the_class_exists(
    static_pods, kind_cluster_ready, record_observation
):
    """k/k #133535 (kubelet warnings since PR #136705); plugin/pkg/admission/priority ("no PriorityClass
    with name ... was found"); kubelet.go tryReconcileMirrorPods (retried on each sync)."""
    class_name, since = unique_name("static-priority"), datetime.now(UTC)

    pod = static_pods.place(static_pods.manifest().with_spec(priorityClassName=class_name))

    pod.wait_running()
    pod.wait_for_log(since, "Failed creating a mirror pod", f"no PriorityClass with name {class_name}")
    assert pod.mirror() is None
    if kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.STATIC_POD_PRIORITY_WARNINGS):
        pod.node.kubelet.wait_for_log(WHOLE_JOURNAL, CLASS_ONLY_WARNING, timeout=0)
    with priority_class(kind_cluster_ready, class_name, value=1000):
        with deliberate():  # the pod's next periodic sync
            mirror = pod.wait_for_running_mirror()
        assert (mirror.spec.priority_class_name, mirror.spec.priority) == (class_name, 1000)
    record_observation("the mirror is refused until the PriorityClass exists, then it appears")


@contextmanager
def priority_class(cluster, name: str, value: int) -> Iterator[None]:
    scheduling = k8s.SchedulingV1Api(cluster.api)
    scheduling.create_priority_class(k8s.V1PriorityClass(metadata=k8s.V1ObjectMeta(name=name), value=value))
    try:
        yield
    finally:
        scheduling.delete_priority_class(name)


def test_resize_of_a_mirror_is_refused_and_a_resource_change_in_the_manifest_replaces_the_pod(
    static_pods, kind_cluster_ready, record_observation
):
    """k/k PR #129216 ("Resizing mirror pods in the API is forbidden", pkg/apis/core/validation
    ValidatePodResize: "static pods cannot be resized"), PR #135856 (the kubelet's own static-pod check
    removed as ineffectual); common.go applyDefaults (a resource change is a manifest change: a new pod)."""
    resources = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}}
    pod = static_pods.place(
        edited(static_pods.manifest(), lambda p: p["spec"]["containers"][0].update(resources=resources))
    )
    old, container = pod.wait_up()
    resize = {"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "20m"}}}]}}

    with pytest.raises(ApiException) as refused:
        kind_cluster_ready.core.patch_namespaced_pod_resize(old.metadata.name, old.metadata.namespace, resize)

    if kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.IN_PLACE_RESIZE):
        assert refused.value.status == HTTP_UNPROCESSABLE, refused.value.body
        assert "static pods cannot be resized" in refused.value.body
    else:  # the subresource is served only with the feature gate InPlacePodVerticalScaling on
        assert refused.value.status == HTTP_NOT_FOUND, refused.value.body
    assert pod.mirror().spec.containers[0].resources.requests["cpu"] == "10m"
    pod.assert_container_kept(container, window=2)

    bigger = {**resources, "requests": {"cpu": "20m", "memory": "32Mi"}}
    pod.rewrite(edited(pod.manifest, lambda p: p["spec"]["containers"][0].update(resources=bigger)))
    pod.wait_replaced(old.metadata.annotations[HASH])
    assert pod.wait_for_new_mirror(old.metadata.uid).spec.containers[0].resources.requests["cpu"] == "20m"
    record_observation(
        "/resize of the mirror refused (422); a resource change in the manifest replaces the pod"
    )


@pytest.mark.disruptive  # the kubelet is restarted with a short syncFrequency
def test_a_uid_set_in_the_manifest_is_kept_and_an_edit_reaches_neither_the_container_nor_the_mirror(
    kubelet_reconfigured, static_pods, kind_cluster_ready, record_observation
):
    """k/k #116725; common.go applyDefaults (a UID is generated only when the manifest has none, and the
    config.hash annotation is the UID); config.go checkAndUpdatePod (the same UID: an update of the same
    pod); kubelet.go SyncPod (a mirror is replaced only when its config.mirror differs from config.hash)."""
    node, given = static_pods.default_node(), str(uuid.uuid4())
    kubelet_reconfigured(node, syncFrequency=SYNC_FREQUENCY)
    pod = static_pods.place(
        edited(static_pods.manifest(), lambda p: p["metadata"].update(uid=given)), node=node
    )
    old, container = pod.wait_up()
    assert old.metadata.annotations[HASH] == given
    args = ["serve", "--listen=:8080", "--version-label=2"]

    pod.rewrite(pod.manifest.with_labels(version="2").with_args("app", *args))

    poll_until(  # the kubelet has taken the edit: its own pod has the new args, under the same UID
        lambda: _kubelet_pod_args(kind_cluster_ready, pod) == (given, args),
        timeout=pod.relist_window(),
        expected=f"the kubelet's own {pod.mirror_name} with UID {given} and args {args}",
    )
    hold_for(
        lambda: (_container_id(pod), _mirror_spec(pod.mirror())),
        window=pod.resync_window(syncs=1),
        unchanged_from=(container.id, _mirror_spec(old)),
        expected="the same container and the same mirror (UID, labels, args) through a periodic sync",
    )
    record_observation(
        "the UID is kept; the kubelet takes the edit but restarts no container; the mirror keeps its old spec"
    )


def _kubelet_pod_args(cluster, pod) -> tuple[str, list[str]] | None:
    for item in cluster.kubelet_pods(pod.node.name):
        if item["metadata"]["name"] == pod.mirror_name:
            return item["metadata"]["uid"], item["spec"]["containers"][0].get("args")
    return None


def _container_id(pod) -> str | None:
    running = pod.running_container()
    return running.id if running else None


def _mirror_spec(mirror: k8s.V1Pod | None) -> tuple[str, str | None, list[str]] | None:
    if mirror is None:
        return None
    return mirror.metadata.uid, mirror.metadata.labels.get("version"), mirror.spec.containers[0].args


@pytest.mark.slow  # two holds of a periodic sync each
@pytest.mark.disruptive  # the kubelet is restarted with a short syncFrequency, then once more
def test_a_completed_restart_never_pod_gets_no_new_mirror_and_does_not_run_again_after_a_kubelet_restart(
    kubelet_reconfigured, static_pods, record_observation
):
    """k/k #116483 (is a deleted mirror of a finished restartPolicy Never static pod recreated? does it
    run again after a kubelet restart?), #130288 (restartPolicy makes no sense for static pods)."""
    node = static_pods.default_node()
    kubelet_reconfigured(node, syncFrequency=SYNC_FREQUENCY)
    manifest = (
        static_pods.manifest("exits", prefix="never")
        .with_restart_policy("Never")
        .with_args("app", "serve", "--exit-after=1s", "--exit-code=0")
    )
    pod = static_pods.place(manifest, node=node)
    done = pod.wait_for_mirror(lambda m: m.status.phase == "Succeeded", "Succeeded")
    window = pod.resync_window(syncs=1) + SYNC_MARGIN

    pod.core.delete_namespaced_pod(done.metadata.name, done.metadata.namespace, grace_period_seconds=0)
    back = changes_within(lambda: _uid(pod.mirror()), None, window, "no mirror")
    containers = [c.id for c in pod.containers()]
    node.kubelet.restart()
    after_restart = changes_within(
        lambda: ([c.id for c in pod.containers()], _phase(pod.mirror())),
        (containers, _phase(pod.mirror())),
        window,
        "no new container, the mirror as it was",
    )

    record_observation(
        f"deleted mirror {'recreated' if back else 'not recreated'}; after a kubelet restart: "
        + (f"{after_restart}" if after_restart else "no new container and no mirror")
    )
    assert back is None, "the mirror of a finished pod came back"
    assert after_restart is None or after_restart[0] == containers, "the finished pod ran again"


def _phase(mirror: k8s.V1Pod | None) -> str | None:
    return mirror.status.phase if mirror else None


def _uid(mirror: k8s.V1Pod | None) -> str | None:
    return mirror.metadata.uid if mirror else None


def test_a_recreated_mirror_of_a_pending_pod_gets_the_pods_status(
    static_pods, kind_cluster_ready, record_observation
):
    """k/k #137309 (a mirror stays Pending: the status manager skips its updates, "Pod was deleted and
    then recreated, skipping status update", status_manager.go syncPod; logged at -v=2 only, so not
    looked for: kind's kubelets run at verbosity 0)."""
    pod = static_pods.place(static_pods.manifest().with_image("example.invalid/absent:1"))
    first = pod.wait_for_mirror(_waiting_on_image, "Pending, its container waiting: ErrImageNeverPull")

    kind_cluster_ready.core.delete_namespaced_pod(
        first.metadata.name, first.metadata.namespace, grace_period_seconds=0
    )

    with deliberate():  # the pod worker's next sync (its image back-off)
        pod.wait_for_mirror(
            lambda m: m.metadata.uid != first.metadata.uid and _waiting_on_image(m),
            "recreated, with its container waiting: ErrImageNeverPull",
        )
    record_observation("the recreated mirror of a Pending pod shows the pod's status")


def _waiting_on_image(mirror: k8s.V1Pod) -> bool:
    statuses = mirror.status.container_statuses or []
    waiting = statuses[0].state.waiting if statuses else None
    return mirror.status.phase == "Pending" and waiting is not None and waiting.reason == "ErrImageNeverPull"


@pytest.mark.slow  # with the API server down, holds for a re-list and then through a periodic sync
@pytest.mark.disruptive
@pytest.mark.parametrize("api_server", ["up", "down"])
def test_a_manifest_removed_right_after_a_kubelet_restart_within_a_bounded_window(
    static_pods, kind_cluster_ready, api_server, record_observation
):
    """k/k #116880, #88402 (a removal that reaches the kubelet before its pod sources are ready, the API
    source above all, is dropped: "skipping delete because sources aren't ready yet", and the pod runs
    on); docs/parity.md "Seen by hand" (untested there because it "hangs": here each hold is bounded, and
    a second restart ends a pod left running). On the control plane, whose API server "down" stops."""
    pod = static_pods.place(static_pods.manifest(), node=kind_cluster_ready.control_plane)
    pod.wait_up()
    outage = api_server_stopped(kind_cluster_ready) if api_server == "down" else nullcontext()

    with outage:
        pod.node.kubelet.service.restart()  # back as soon as a new kubelet process runs, before healthz
        pod.remove_file()
        stopped = changes_within(lambda: _runs(pod), True, pod.relist_window(), "the pod running")
    if stopped is None:  # then the API server is back: do the sources' readiness let the removal through?
        stopped = changes_within(
            lambda: _runs(pod), True, pod.resync_window(syncs=1), "the pod still running"
        )
        seen = (
            "the removal waits for the sources: the pod runs on until the API server is back, then stops"
            if stopped is not None
            else "the removal is dropped: the pod runs on"
        )
    else:
        seen = "the pod stops at once: the removal is neither dropped nor held"
    record_observation(f"API server {api_server}: {seen}")
    if stopped is None:
        pod.node.kubelet.restart()  # the remedy: a restart with the file gone ends the pod
    pod.wait_containers_gone()
    pod.wait_for_mirror_gone()


def _runs(pod) -> bool:
    return pod.running_container() is not None


@pytest.mark.disruptive
@pytest.mark.parametrize("sandbox", ["ready", "stopped"])
def test_an_on_failure_pod_whose_container_was_created_but_not_started_across_a_kubelet_restart(
    node_dirs, static_pods, sandbox, record_observation
):
    """k/k #123839 (a restartPolicy OnFailure static pod stays Pending when the kubelet restarts between
    container create and start; the issue's steps also stop the sandbox). The state is made with crictl
    while the kubelet is stopped: the running container removed, one of the same config created in its
    sandbox and not started, and, for "stopped", the sandbox stopped."""
    pod = static_pods.place(static_pods.manifest().with_restart_policy("OnFailure"))
    _, container = pod.wait_up()
    node = pod.node
    configs = {
        "container.json": node.crictl.inspect(container.id)["info"]["config"],
        "sandbox.json": json.loads(
            node.run("crictl", "inspectp", "-o", "json", container.pod_sandbox_id).stdout
        )["info"]["config"],
    }

    where = node_dirs(node, f"/etc/{unique_name('cri-configs')}")  # not /tmp: a tmpfs in kind's nodes
    for name, config in configs.items():
        node.file(posixpath.join(where, name)).write_bytes(json.dumps(config).encode())

    with node.kubelet.stopped():
        node.crictl.remove(container.id)
        created = node.run(
            "crictl", "create", container.pod_sandbox_id, *(posixpath.join(where, n) for n in configs)
        ).stdout.strip()
        if sandbox == "stopped":
            node.run("crictl", "stopp", container.pod_sandbox_id)

    started = changes_within(
        lambda: pod.running_container() is not None, False, pod.relist_window(), "no container running"
    )
    state = node.crictl.status(created).state
    record_observation(
        f"sandbox {sandbox}: after the restart {'a container runs' if started else 'none runs'};"
        f" the created one is {state}"
    )
    if not started:
        node.crictl.remove(created)  # the workaround, so that the pod can be removed
    assert started, f"the pod stays Pending: container {created[:13]} {state}"


@pytest.mark.parametrize(
    "gate",
    [None, pytest.param(False, marks=pytest.mark.disruptive)],
    ids=["gate-as-released", "gate-off"],
)
def test_a_static_pod_with_host_users_false(
    kubelet_reconfigured, static_pods, kind_cluster_ready, gate, record_observation
):
    """k/k PR #126874 (user namespaces for static pods); KEP-127 (feature gate UserNamespacesSupport: beta
    from 1.30, on by default from 1.33, GA and locked on from 1.36; the runtime needs idmapped mounts)."""
    node = static_pods.default_node()
    if gate is not None:
        if kind_cluster_ready.kubelet_version(node.name).has(Behaviour.USER_NAMESPACES_LOCKED_ON):
            # A second kubelet told to turn it off stops at its feature gates, before it touches anything.
            refused = node.run(
                "kubelet", "--feature-gates=UserNamespacesSupport=false", check=False, timeout=30
            )
            assert not refused.ok and "feature is locked to true" in refused.stderr, refused.summary()
            record_observation(
                "UserNamespacesSupport off: the kubelet refuses to start (the gate is locked on)"
            )
            return
        # ProcMountType (on by default) depends on it: with it on, a 1.35 kubelet refuses to start
        # ("ProcMountType is enabled, but depends on features that are disabled").
        gates = {
            **(node.kubelet.config().get("featureGates") or {}),
            "UserNamespacesSupport": gate,
            "ProcMountType": False,
        }
        kubelet_reconfigured(node, featureGates=gates)
    since = datetime.now(UTC)

    pod = static_pods.place(static_pods.manifest().with_spec(hostUsers=False), node=node)

    seen = wait_outcome(pod, since)
    if seen == "runs":
        spec = node.crictl.inspect(pod.running_container().id)["info"].get("runtimeSpec", {})
        seen += " in a user namespace" if spec.get("linux", {}).get("uidMappings") else " in the host's"
    record_observation(f"UserNamespacesSupport {'as released' if gate is None else 'off'}: {seen}")
