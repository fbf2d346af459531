"""Upstream's newer node e2e tests of static pods (1.35 to 1.38), where the catalogue had none or a part.

Sources: test/e2e_node/mirror_pod_test.go (MirrorPod with EnvFiles; validateMirrorPod, applied upstream
to every mirror it waits for, recreated ones included), mirror_pod_grace_period_test.go (an update during
the grace period); KEP-5307 EnvFiles (fileKeyRef: an env var read from a file in an emptyDir).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION as HASH
from harness.staticpods.mirror_checks import assert_valid_mirror
from harness.staticpods.outcome import wait_outcome
from harness.staticpods.pods import MIRROR_TIMEOUT
from harness.staticpods.pods_api import SOCKET as PODS_API_SOCKET
from harness.staticpods.pods_api import pods_api
from harness.versions import Behaviour
from harness.waiting import deliberate, hold_for, poll_until

GRACE = 20  # seconds: fixtures/manifests/slow-to-stop.yaml, as upstream's createStaticPodWithGracePeriod
HOLD_MARGIN = 1  # the hold ends this much before the grace period does (upstream holds 19 s of 20)
STOP_TIMEOUT = 10  # seconds between crictl stop's SIGTERM and its SIGKILL
ENV_FILE = b"CONFIG_1='value1'\nCONFIG_2='value2'\n"  # what upstream's init container writes


def test_envfiles_static_pod_reads_its_env_from_a_file_written_before_it_starts(
    static_pods, kind_cluster_ready, record_observation
):
    """mirror_pod_test.go "MirrorPod with EnvFiles when creating a static pod with EnvFiles should be able
    to consume variables from a file" (EnvFiles beta and on from 1.35: harness/versions.py). The env is read
    from the runtime's container config (the image has no shell to print it)."""
    since = datetime.now(UTC)
    pod = static_pods.place(static_pods.manifest("envfiles"))
    if not kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.ENV_FILES):
        record_observation(f"EnvFiles off: {wait_outcome(pod, since)}")
        return
    setup = pod.wait_running("setup-envfile")
    volume = f"/var/lib/kubelet/pods/{setup.pod_uid}/volumes/kubernetes.io~empty-dir/config"

    pod.node.file(posixpath.join(volume, "config.env")).write_bytes(ENV_FILE)
    _complete(pod.node, setup.id)

    app = pod.wait_running("use-envfile")
    envs = {e["key"]: e["value"] for e in pod.node.crictl.inspect(app.id)["info"]["config"]["envs"]}
    assert (envs.get("CONFIG_1"), envs.get("CONFIG_2")) == ("value1", "value2")
    assert_valid_mirror(kind_cluster_ready.core, pod.wait_for_running_mirror())
    record_observation("the app's env holds the file's values; the mirror runs")


def _complete(node, container_id: str) -> None:
    """Stop a testapp container with SIGTERM, on which it exits 0 (`crictl stop` with no timeout sends
    SIGKILL at once, exit 137: a failed init container, which the kubelet runs again)."""
    node.run("crictl", "stop", "--timeout", str(STOP_TIMEOUT), container_id)


def test_updated_manifests_old_mirror_keeps_its_uid_and_runs_through_the_grace_period(
    static_pods, kind_cluster_ready
):
    """mirror_pod_grace_period_test.go "MirrorPodWithGracePeriod when create a mirror pod mirror pod
    termination should satisfy grace period when static pod is updated"; the recreated mirror is checked
    as mirror_pod_test.go validateMirrorPod does."""
    pod = static_pods.place(static_pods.manifest("slow-to-stop"))
    old, _ = pod.wait_up()
    image = f"docker.io/{static_pods.image}"  # another name the runtime resolves to the same local image

    pod.rewrite(pod.manifest.with_image(image))

    hold_for(
        lambda: (m.metadata.uid, m.status.phase) if (m := pod.mirror()) else None,
        window=GRACE - HOLD_MARGIN,
        unchanged_from=(old.metadata.uid, "Running"),
        expected="the old mirror, Running, through the old pod's grace period",
    )
    with deliberate():  # the rest of the grace period, then the kubelet's start back-off
        new = pod.wait_for_mirror(
            lambda m: m.metadata.uid != old.metadata.uid and m.status.phase == "Running", "recreated, Running"
        )
    assert [c.image for c in new.spec.containers] == [image]
    assert_valid_mirror(kind_cluster_ready.core, new)


# A systemd drop-in that leaves the kubelet without --kubeconfig and --bootstrap-kubeconfig (kind's
# 10-kubeadm.conf passes them in KUBELET_KUBECONFIG_ARGS): a kubelet with no API server configured at all.
STANDALONE_DROP_IN = "/etc/systemd/system/kubelet.service.d/90-standalone.conf"
STANDALONE_CONFIG = {
    "readOnlyPort": 10255,  # where upstream's standalone tests read the kubelet's pods
    "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
    "authorization": {"mode": "AlwaysAllow"},  # webhook modes need an API server
}
STANDALONE_TIMEOUT = 120


@pytest.mark.disruptive
@pytest.mark.kind_config("multi-node")  # a worker's kubelet leaves the cluster for the test
def test_a_kubelet_with_no_api_server_configured_runs_static_pods_and_their_env_files(
    kubelet_reconfigured, static_pods, kind_cluster_ready, record_observation
):
    """standalone_test.go "when creating a static pod the pod should be running" and, from 1.35, "when
    creating a static pod with EnvFiles the pod should be running and consume variables" (a kubelet
    started without --kubeconfig; the pods are read from its read-only /pods)."""
    node = static_pods.default_node()
    with _standalone_flags(node):
        kubelet_reconfigured(node, **STANDALONE_CONFIG)
        assert not any(a.startswith("--kubeconfig") for a in node.kubelet.command_line())
        plain = static_pods.place(static_pods.manifest(), node=node)
        poll_until(
            lambda: _running_on_read_only_port(node, plain.mirror_name),
            timeout=STANDALONE_TIMEOUT,
            expected=f"{plain.mirror_name} Running and Ready on the standalone kubelet's /pods",
        )
        if kind_cluster_ready.kubelet_version(node.name).has(Behaviour.ENV_FILES):
            envfiles = static_pods.place(static_pods.manifest("envfiles"), node=node)
            setup = envfiles.wait_running("setup-envfile")
            volume = f"/var/lib/kubelet/pods/{setup.pod_uid}/volumes/kubernetes.io~empty-dir/config"
            node.file(posixpath.join(volume, "config.env")).write_bytes(ENV_FILE)
            _complete(node, setup.id)
            app = envfiles.wait_running("use-envfile")
            envs = {e["key"]: e["value"] for e in node.crictl.inspect(app.id)["info"]["config"]["envs"]}
            assert (envs.get("CONFIG_1"), envs.get("CONFIG_2")) == ("value1", "value2")
        assert plain.mirror() is None  # the API server knows nothing of them
    record_observation("a kubelet without an API server runs static pods (and reads env files from 1.35)")


@contextmanager
def _standalone_flags(node) -> Iterator[None]:
    """The kubelet unit without its kubeconfig flags for the body (applied at the next restart);
    the drop-in is removed afterwards, before the kubelet is restarted with its own config."""
    node.file(STANDALONE_DROP_IN).write_bytes(b'[Service]\nEnvironment="KUBELET_KUBECONFIG_ARGS="\n')
    node.run("systemctl", "daemon-reload")
    try:
        yield
    finally:
        node.file(STANDALONE_DROP_IN).remove(missing_ok=True)
        node.run("systemctl", "daemon-reload")


def _running_on_read_only_port(node, name: str) -> bool:
    for pod in node.kubelet.read_only_pods(STANDALONE_CONFIG["readOnlyPort"]):
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if pod["metadata"]["name"] == name:
            return pod["status"].get("phase") == "Running" and conditions.get("Ready") == "True"
    return False


def test_the_kubelet_pods_api_lists_and_watches_a_static_pod(
    static_pods, kind_cluster_ready, record_observation
):
    """pods_api_test.go "Kubelet Pods API when the PodsAPI feature gate is enabled should be able to list and
    watch static pods" (PodsAPI beta and on by default from 1.37: harness/versions.py). The pod it gives is
    the static pod itself: its UID is the mirror's config.hash."""
    node = static_pods.default_node()
    if not kind_cluster_ready.kubelet_version(node.name).has(Behaviour.PODS_API):
        # Nothing answers there; the file itself may be left behind by a newer kubelet that ran before
        # (a skewed cluster: a 1.36 kubelet swapped in for 1.37's found its socket file).
        answered = node.run("socat", "-u", "OPEN:/dev/null", f"UNIX-CONNECT:{PODS_API_SOCKET}", check=False)
        assert not answered.ok, f"a kubelet without PodsAPI answers on {PODS_API_SOCKET}"
        record_observation("no Pods API answers (PodsAPI is off)")
        return
    addresses = kind_cluster_ready.core.read_node(node.name).status.addresses
    address = next(a.address for a in addresses if a.type == "InternalIP")

    with pods_api(node, address) as api, api.watching() as watch:
        pod = static_pods.place(static_pods.manifest(), node=node)
        added = watch.wait_for("ADDED", pod.namespace, pod.mirror_name, timeout=MIRROR_TIMEOUT)
        mirror = pod.wait_for_running_mirror()
        listed = api.list_pods()
        pod.remove_file()
        watch.wait_for("DELETED", pod.namespace, pod.mirror_name, timeout=MIRROR_TIMEOUT)

    assert added.pod.uid == mirror.metadata.annotations[HASH] != mirror.metadata.uid
    assert added.pod in listed
    record_observation("the Pods API lists and watches the static pod (ADDED, DELETED), with its own UID")


def test_a_restart_all_containers_rule_restarts_every_container_of_a_static_pod(
    static_pods, kind_cluster_ready, record_observation
):
    """standalone_test.go "Pod Extended (RestartAllContainers) should restart all containers on regular
    container exit" (ContainerRestartRules and RestartAllContainersOnContainerExits, both on by default from
    1.36: harness/versions.py), with a joined kubelet: its mirror shows every restart count."""
    since = datetime.now(UTC)
    pod = static_pods.place(static_pods.manifest("restart-all"))
    if not kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.RESTART_ALL_CONTAINERS):
        record_observation(f"RestartAllContainers off: {wait_outcome(pod, since)}")
        return

    with deliberate():  # the source container exits 42 five seconds after it starts
        mirror = pod.wait_for_mirror(
            _every_container_restarted, "with every container restarted at least once"
        )

    statuses = mirror.status.init_container_statuses + mirror.status.container_statuses
    record_observation(
        "every container restarted: " + ", ".join(f"{s.name} {s.restart_count}" for s in statuses)
    )


def _every_container_restarted(mirror) -> bool:
    statuses = (mirror.status.init_container_statuses or []) + (mirror.status.container_statuses or [])
    return len(statuses) == 4 and all(s.restart_count >= 1 for s in statuses)
