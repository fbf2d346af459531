"""Mirror pods: the API server's read-only view of a static pod.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ ("the kubelet
automatically tries to create a mirror Pod ... visible on the API server, but cannot be
controlled from there"); pkg/kubelet/config/common.go (name, namespace, annotations);
test/e2e_node/mirror_pod_test.go (what upstream checks on every mirror).
"""

import pytest

from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION as HASH
from harness.staticpods.manifest import CONFIG_MIRROR_ANNOTATION as MIRROR
from harness.staticpods.manifest import CONFIG_SOURCE_ANNOTATION as SOURCE


@pytest.mark.claim("S6", "confirmed")
@pytest.mark.claim("S7", "confirmed")
@pytest.mark.claim("S17", "confirmed")
def test_mirror_pod_is_named_after_the_node_and_marks_its_file_source(static_pods):
    """S6, S7, S17; common.go generatePodName; mirror_pod_test.go checkMirrorPodRunning."""
    pod = static_pods.place(static_pods.manifest())

    mirror = pod.wait_for_running_mirror()

    assert mirror.metadata.name == f"{pod.name}-{pod.node.name.lower()}"
    assert mirror.metadata.namespace == "default"
    assert mirror.spec.node_name == pod.node.name
    annotations = mirror.metadata.annotations
    assert annotations[SOURCE] == "file"
    assert annotations[MIRROR] == annotations[HASH]


@pytest.mark.claim("S14", "confirmed")
@pytest.mark.parametrize("force", [False, True], ids=["graceful", "forced"])
def test_deleted_mirror_pod_comes_back_while_the_container_keeps_running(static_pods, cluster, force):
    """S14; docs: `kubectl delete` of the mirror does not remove the static pod;
    mirror_pod_test.go "should be recreated when mirror pod gracefully/forcibly deleted"."""
    pod = static_pods.place(static_pods.manifest())
    old, container = pod.wait_up()

    cluster.core.delete_namespaced_pod(
        old.metadata.name, old.metadata.namespace, grace_period_seconds=0 if force else None
    )

    pod.wait_for_new_mirror(old.metadata.uid)
    pod.assert_container_kept(container)


@pytest.mark.disruptive
@pytest.mark.claim("S9", "confirmed")
def test_kubelet_restart_leaves_the_container_running(static_pods):
    """S9; mirror_pod_test.go "MirrorPod when kubelet restarts should not change container status"
    (upstream's newer form of this check; not in v1.34.4's file)."""
    pod = static_pods.place(static_pods.manifest())
    _, container = pod.wait_up()

    pod.node.kubelet.restart()

    pod.wait_for_running_mirror()
    pod.assert_container_kept(container)
