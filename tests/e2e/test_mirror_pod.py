"""Mirror pods: the API server's read-only view of a static pod.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ ("the kubelet
automatically tries to create a mirror Pod ... visible on the API server, but cannot be
controlled from there"); pkg/kubelet/config/common.go (name, namespace, annotations);
test/e2e_node/mirror_pod_test.go (what upstream checks on every mirror).
"""

from datetime import UTC, datetime

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION as HASH
from harness.staticpods.manifest import CONFIG_MIRROR_ANNOTATION as MIRROR
from harness.staticpods.manifest import CONFIG_SOURCE_ANNOTATION as SOURCE
from harness.staticpods.mirror_checks import assert_valid_mirror
from harness.versions import Behaviour
from harness.waiting import deliberate, watch_until

# A kubelet syncFrequency short enough to see several periodic syncs in a test (default 1m).
SYNC_FREQUENCY = "10s"
# Seconds after the kubelet's own bound (one periodic sync) in which the mirror is still on time:
# the kubelet's API calls and the watch that sees the new mirror.
SYNC_MARGIN = 5
HTTP_UNPROCESSABLE = 422
ENDPOINTS_TIMEOUT = 60


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


@pytest.mark.disruptive  # the kubelet is restarted with a shorter syncFrequency
@pytest.mark.claim("S14", "confirmed")
@pytest.mark.parametrize("force", [False, True], ids=["graceful", "forced"])
def test_deleted_mirror_pod_comes_back_by_the_next_periodic_sync_while_the_container_keeps_running(
    kubelet_reconfigured, static_pods, kind_cluster_ready, force, record_measurement
):
    """S14; docs: `kubectl delete` of the mirror does not remove the static pod;
    mirror_pod_test.go "should be recreated when mirror pod gracefully deleted" /
    "should be recreated when mirror pod forcibly deleted", with its validateMirrorPod on the new mirror;
    pod_workers.go (each pod re-synced every syncFrequency, with up to 50 % jitter)."""
    node = static_pods.default_node()
    kubelet_reconfigured(node, syncFrequency=SYNC_FREQUENCY)
    pod = static_pods.place(static_pods.manifest(), node=node)
    old, container = pod.wait_up()
    deleted_at = datetime.now(UTC)

    kind_cluster_ready.core.delete_namespaced_pod(
        old.metadata.name, old.metadata.namespace, grace_period_seconds=0 if force else None
    )

    with deliberate():  # the next periodic sync of the pod
        pod.wait_for_new_mirror(old.metadata.uid)
    back_after = (datetime.now(UTC) - deleted_at).total_seconds()
    pod.assert_container_kept(container)
    record_measurement("mirror_back_seconds", round(back_after, 1))
    assert back_after <= pod.resync_window(syncs=1) + SYNC_MARGIN
    again = pod.wait_for_running_mirror()
    assert_valid_mirror(kind_cluster_ready.core, again)
    assert again.metadata.annotations[HASH] == old.metadata.annotations[HASH]


def test_ephemeral_container_is_refused_for_a_mirror_pod(static_pods, kind_cluster_ready):
    """docs (static pods do not support ephemeral containers); pkg/apis/core/validation
    ValidatePodEphemeralContainersUpdate ("static pods do not support ephemeral containers", k/k #113935)."""
    pod = static_pods.place(static_pods.manifest())
    mirror = pod.wait_for_running_mirror()
    debugger = {"name": "debugger", "image": static_pods.image, "targetContainerName": "app"}

    with pytest.raises(ApiException) as refused:
        kind_cluster_ready.core.patch_namespaced_pod_ephemeralcontainers(
            mirror.metadata.name, mirror.metadata.namespace, {"spec": {"ephemeralContainers": [debugger]}}
        )

    assert refused.value.status == HTTP_UNPROCESSABLE
    assert "static pods do not support ephemeral containers" in refused.value.body
    assert pod.mirror().spec.ephemeral_containers is None


def test_labels_from_the_manifest_select_the_mirror_for_queries_and_services(
    test_namespaces, static_pods, kind_cluster_ready
):
    """docs (labels propagate to the mirror); the EndpointSlice controller selects pods by labels, mirrors
    included (discovery.k8s.io/v1; no kube-proxy needed to see the endpoint)."""
    namespace = test_namespaces.create()
    manifest = static_pods.manifest().with_namespace(namespace)
    pod = static_pods.place(manifest.with_labels(selected=manifest.name))
    mirror = pod.wait_for_running_mirror()

    selected = kind_cluster_ready.core.list_namespaced_pod(
        namespace, label_selector=f"selected={manifest.name}"
    )
    kind_cluster_ready.core.create_namespaced_service(
        namespace, _service("selects-mirror", {"selected": manifest.name})
    )

    assert [p.metadata.name for p in selected.items] == [pod.mirror_name]
    endpoint = watch_until(
        k8s.DiscoveryV1Api(kind_cluster_ready.api).list_namespaced_endpoint_slice,
        lambda s: s is not None and any(_targets(e, pod.mirror_name) for e in s.endpoints or []),
        timeout=ENDPOINTS_TIMEOUT,
        expected=f"an EndpointSlice of service selects-mirror with a ready endpoint for {pod.mirror_name}",
        namespace=namespace,
        label_selector="kubernetes.io/service-name=selects-mirror",
    )
    assert mirror.status.pod_ip in {a for e in endpoint.endpoints for a in e.addresses}


# What each upstream "Pod Generation" case changes in the manifest (the image under another name the
# runtime resolves to the same local image, since nothing can be pulled).
UPDATES = {
    "activeDeadlineSeconds": lambda m, image: m.with_spec(activeDeadlineSeconds=3000),
    "container image": lambda m, image: m.with_image(f"docker.io/{image}", container="app"),
    "initContainer image": lambda m, image: m.with_image(f"docker.io/{image}", container="init"),
}


@pytest.mark.parametrize("update", UPDATES)
def test_updated_static_pod_gets_a_new_mirror_whose_generation_stays_1(
    static_pods, kind_cluster_ready, update, record_observation
):
    """mirror_pod_test.go "mirror pod: update activeDeadlineSeconds" / "mirror pod: update container image" /
    "mirror pod: update initContainer image" (MirrorPod (Pod Generation): generation stays 1,
    observedGeneration stays empty)."""
    pod = static_pods.place(static_pods.manifest("upgrade-init", prefix="generation"))
    old = pod.wait_for_running_mirror()

    pod.rewrite(UPDATES[update](pod.manifest, static_pods.image))

    pod.wait_replaced(old.metadata.annotations[HASH])
    new = pod.wait_for_new_mirror(old.metadata.uid)
    generations = (new.metadata.generation, new.status.observed_generation)
    # Measured: generation 1 and no observedGeneration, as upstream's 1.34+ test expects (KEP-5067);
    # older kubelets are only recorded.
    if kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.POD_GENERATION):
        assert generations == (1, None)
    record_observation(f"generation {generations[0]}, observedGeneration {generations[1]}")


def _service(name: str, selector: dict[str, str]) -> k8s.V1Service:
    port = k8s.V1ServicePort(port=80, target_port=8080)
    return k8s.V1Service(
        metadata=k8s.V1ObjectMeta(name=name), spec=k8s.V1ServiceSpec(selector=selector, ports=[port])
    )


def _targets(endpoint, pod_name: str) -> bool:
    return bool(endpoint.target_ref and endpoint.target_ref.name == pod_name and endpoint.conditions.ready)
