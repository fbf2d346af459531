"""A static pod that depends on the API server: a namespace that is missing, API objects it names.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ ("the spec of a static Pod cannot
refer to other API objects (e.g., ServiceAccount, ConfigMap, Secret, etc)"); pkg/kubelet/kubelet.go
tryReconcileMirrorPods ("Failed creating a mirror pod", retried on every sync);
pkg/kubelet/config/common.go tryDecodeSinglePod (feature gate PreventStaticPodAPIReferences, beta and on
in 1.34: "static pods may not reference <resource>").
"""

from datetime import UTC, datetime

import pytest
from kubernetes import client as k8s

from harness.versions import Behaviour
from harness.waiting import deliberate

# What the manifest says, and the resource the kubelet names when it refuses it.
REFERENCES = {
    "serviceaccounts": {"serviceAccountName": "static-sa"},
    "secrets": {"volumes": [{"name": "ref", "secret": {"secretName": "static-secret"}}]},
    "configmaps": {"volumes": [{"name": "ref", "configMap": {"name": "static-cm"}}]},
}


# Before 1.34, how the API server words its refusal of such a mirror pod.
MIRROR_REFUSED = {
    "serviceaccounts": "a mirror pod may not reference service accounts",
    "secrets": "a mirror pod may not reference secrets",
    "configmaps": "can not create pods that reference configmaps",
}


def test_pod_in_a_missing_namespace_runs_and_gets_its_mirror_once_the_namespace_exists(
    test_namespaces, static_pods
):
    """kubelet.go tryReconcileMirrorPods (creation retried on each sync); NamespaceLifecycle admission."""
    namespace, since = f"absent-{static_pods.manifest().name}", datetime.now(UTC)
    pod = static_pods.place(static_pods.manifest().with_namespace(namespace))

    pod.wait_running()
    pod.wait_for_log(since, "Failed creating a mirror pod", f'namespaces \\"{namespace}\\" not found')
    assert pod.mirror() is None

    test_namespaces.create(namespace)
    with deliberate():  # the next sync of the pod
        pod.wait_for_running_mirror()


@pytest.mark.parametrize("resource", REFERENCES)
def test_pod_that_refers_to_api_objects_never_gets_a_mirror(
    test_namespaces, static_pods, kind_cluster_ready, resource, record_observation
):
    """docs (no references to API objects). From 1.34 the kubelet refuses the file (common.go
    tryDecodeSinglePod, PreventStaticPodAPIReferences); before, it runs the pod and the API server
    refuses the mirror (core validation; NodeRestriction for ConfigMaps), retried on every sync."""
    namespace = test_namespaces.create()
    create_referenced_objects(kind_cluster_ready.core, namespace)
    since = datetime.now(UTC)

    pod = static_pods.place(
        static_pods.manifest().with_namespace(namespace).with_spec(**REFERENCES[resource])
    )

    if kind_cluster_ready.kubelet_version(pod.node.name).has(Behaviour.KUBELET_REFUSES_API_REFERENCES):
        static_pods.assert_refused(pod, since, f"static pods may not reference {resource}")
        record_observation("the kubelet refuses the file")
    else:
        pod.wait_running()
        pod.wait_for_log(since, "Failed creating a mirror pod", MIRROR_REFUSED[resource])
        assert pod.mirror() is None
        record_observation("the pod runs; the API server refuses its mirror")


def create_referenced_objects(core: k8s.CoreV1Api, namespace: str) -> None:
    """The objects REFERENCES name, so that the kubelet's refusal is not about their absence."""
    meta = {"namespace": namespace}
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="static-sa", **meta))
    )
    core.create_namespaced_secret(
        namespace,
        k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="static-secret", **meta), string_data={"k": "v"}),
    )
    core.create_namespaced_config_map(
        namespace, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="static-cm", **meta), data={"k": "v"})
    )
