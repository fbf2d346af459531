"""Upstream's newer node e2e tests of static pods (1.35 to 1.38), where the catalogue had none or a part.

Sources: test/e2e_node/mirror_pod_test.go (MirrorPod with EnvFiles; validateMirrorPod, applied upstream
to every mirror it waits for, recreated ones included), mirror_pod_grace_period_test.go (an update during
the grace period); KEP-5307 EnvFiles (fileKeyRef: an env var read from a file in an emptyDir).
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime

import pytest

from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION as HASH
from harness.staticpods.mirror_checks import assert_valid_mirror
from harness.staticpods.outcome import wait_outcome
from harness.versions import Behaviour
from harness.waiting import deliberate, hold_for

GRACE = 20  # seconds: fixtures/manifests/slow-to-stop.yaml, as upstream's createStaticPodWithGracePeriod
HOLD_MARGIN = 1  # the hold ends this much before the grace period does (upstream holds 19 s of 20)
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
    pod.node.crictl.stop(setup.id)  # testapp exits 0 on SIGTERM: the init container has completed

    app = pod.wait_running("use-envfile")
    envs = {e["key"]: e["value"] for e in pod.node.crictl.inspect(app.id)["info"]["config"]["envs"]}
    assert (envs.get("CONFIG_1"), envs.get("CONFIG_2")) == ("value1", "value2")
    assert_valid_mirror(kind_cluster_ready.core, pod.wait_for_running_mirror())
    record_observation("the app's env holds the file's values; the mirror runs")


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


@pytest.mark.slow  # the mirror comes back at the pod's next periodic sync (syncFrequency 1 m, with jitter)
def test_a_mirror_recreated_after_a_forced_delete_is_a_valid_mirror(static_pods, kind_cluster_ready):
    """mirror_pod_test.go "MirrorPod when create a mirror pod should be recreated when mirror pod forcibly
    deleted" with its validateMirrorPod (hash equals config.mirror, source not "api", one Node owner,
    Running) applied to the recreated mirror; and after a file removed and put back, mirror_pod_test.go
    "should successfully recreate when file is removed and recreated"."""
    pod = static_pods.place(static_pods.manifest())
    first = pod.wait_for_running_mirror()
    assert_valid_mirror(kind_cluster_ready.core, first)

    kind_cluster_ready.core.delete_namespaced_pod(
        first.metadata.name, first.metadata.namespace, grace_period_seconds=0
    )
    with deliberate():  # the pod's next periodic sync
        again = pod.wait_for_mirror(
            lambda m: m.metadata.uid != first.metadata.uid and m.status.phase == "Running",
            "recreated, Running",
        )
    assert_valid_mirror(kind_cluster_ready.core, again)
    assert again.metadata.annotations[HASH] == first.metadata.annotations[HASH]

    pod.remove_file()
    pod.wait_for_mirror_gone()
    pod.rewrite(pod.manifest)
    assert_valid_mirror(kind_cluster_ready.core, pod.wait_for_running_mirror())
