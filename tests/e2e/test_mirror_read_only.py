"""What a mirror pod carries, and how "read-only" it really is.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ (labels propagate to the
mirror; it is visible through the API but cannot be controlled from there); pkg/kubelet/config/common.go
(hash, seen and source annotations); pkg/kubelet/pod/mirror_client.go (config.mirror, the Node owner);
pkg/kubelet/kubelet.go tryReconcileMirrorPods and pkg/kubelet/pod/pod_manager.go IsMirrorPodOf (a
mirror is replaced only when its config.mirror hash differs); pkg/apis/core/validation
ValidatePodSpecificAnnotationUpdates; test/e2e_node/mirror_pod_test.go.
"""

import pytest
from kubernetes.client.exceptions import ApiException

from harness.staticpods.manifest import (
    CONFIG_HASH_ANNOTATION,
    CONFIG_MIRROR_ANNOTATION,
    CONFIG_SEEN_ANNOTATION,
    CONFIG_SOURCE_ANNOTATION,
)

HTTP_UNPROCESSABLE = 422
# A kubelet syncFrequency short enough for a hold through two periodic syncs (default 1m).
SYNC_FREQUENCY = "10s"


@pytest.mark.claim("S7", "confirmed")
def test_mirror_carries_the_kubelets_annotations_the_manifests_metadata_and_one_node_owner(
    static_pods, kind_cluster_ready
):
    """S7; common.go applyDefaults; mirror_client.go CreateMirrorPod; mirror_pod_test.go (one Node owner)."""
    manifest = (
        static_pods.manifest().with_labels(tier="edge").with_annotations({"example.com/note": "from file"})
    )
    pod = static_pods.place(manifest)

    mirror = pod.wait_for_running_mirror()

    annotations = mirror.metadata.annotations
    assert annotations[CONFIG_SOURCE_ANNOTATION] == "file" and CONFIG_SEEN_ANNOTATION in annotations
    assert annotations[CONFIG_MIRROR_ANNOTATION] == annotations[CONFIG_HASH_ANNOTATION]
    assert manifest.labels.items() <= mirror.metadata.labels.items()
    assert manifest.annotations.items() <= annotations.items()
    node = kind_cluster_ready.core.read_node(pod.node.name)
    owner = ("v1", "Node", node.metadata.name, node.metadata.uid, True)
    assert [
        (o.api_version, o.kind, o.name, o.uid, o.controller) for o in mirror.metadata.owner_references
    ] == [owner]


def test_mirror_status_follows_the_container_on_the_node(static_pods):
    """docs (a container stopped by hand with crictl is restarted after a while); kubelet status manager."""
    pod = static_pods.place(static_pods.manifest())
    mirror, container = pod.wait_up()
    assert mirror.status.container_statuses[0].container_id.endswith(container.id)

    pod.node.crictl.stop(container.id)

    pod.wait_running(other_than=container)
    assert pod.wait_mirror_agrees().attempt == 1
    assert pod.mirror().status.container_statuses[0].restart_count == 1


@pytest.mark.parametrize("change", ["update", "remove"])
def test_api_server_refuses_to_change_the_config_mirror_annotation(static_pods, kind_cluster_ready, change):
    """pkg/apis/core/validation ValidatePodSpecificAnnotationUpdates (config.mirror may not change)."""
    pod = static_pods.place(static_pods.manifest())
    mirror = pod.wait_for_running_mirror()

    patch = {
        "metadata": {"annotations": {CONFIG_MIRROR_ANNOTATION: "edited" if change == "update" else None}}
    }
    with pytest.raises(ApiException) as refused:
        kind_cluster_ready.core.patch_namespaced_pod(mirror.metadata.name, mirror.metadata.namespace, patch)

    assert refused.value.status == HTTP_UNPROCESSABLE
    assert "may not remove or update mirror pod annotation" in refused.value.body


@pytest.mark.claim(
    "S8",
    "refuted",
    "The API server accepts an edit of a mirror pod's labels and image and the "
    "kubelet keeps it as edited (same UID), neither reverting nor recreating it; the running "
    "container is untouched.",
)
@pytest.mark.claim(
    "S14",
    "partly",
    "A deleted mirror pod is recreated (not 'immediately' when force-deleted: only at the kubelet's "
    "next periodic sync of the pod), but an edited one is kept as edited: the kubelet replaces a "
    "mirror only when its config.mirror hash differs.",
)
@pytest.mark.claim(
    "S6",
    "partly",
    "The mirror pod is not read-only: the API server accepts edits of its labels "
    "and spec (they change nothing on the node); only its config.mirror annotation is protected.",
)
@pytest.mark.disruptive  # the kubelet is restarted with a shorter syncFrequency
def test_edited_mirror_is_kept_as_edited_through_two_periodic_syncs_and_the_running_pod_is_unchanged(
    kubelet_reconfigured, static_pods, kind_cluster_ready
):
    """S8, S14, S6; kubelet.go SyncPod / tryReconcileMirrorPods (run on every periodic sync); pod_manager.go
    IsMirrorPodOf (only the config.mirror hash counts)."""
    node = static_pods.default_node()
    kubelet_reconfigured(node, syncFrequency=SYNC_FREQUENCY)
    pod = static_pods.place(static_pods.manifest(), node=node)
    mirror, container = pod.wait_up()

    edit = {
        "metadata": {"labels": {"edited": "by-hand"}},
        "spec": {"containers": [{"name": "app", "image": "example.com/edited:1"}]},
    }
    kind_cluster_ready.core.patch_namespaced_pod(mirror.metadata.name, mirror.metadata.namespace, edit)

    pod.assert_container_kept(container, window=pod.resync_window(syncs=2))
    now = pod.mirror()
    assert (now.metadata.uid, now.metadata.labels["edited"]) == (mirror.metadata.uid, "by-hand")
    assert now.spec.containers[0].image == "example.com/edited:1"
