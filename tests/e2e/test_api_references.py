"""A static pod that depends on the API server: a namespace that is missing, API objects it names.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ ("the spec of a static Pod cannot
refer to other API objects (e.g., ServiceAccount, ConfigMap, Secret, etc)"); pkg/kubelet/kubelet.go
tryReconcileMirrorPods ("Failed creating a mirror pod", retried on every sync);
plugin/pkg/admission/noderestriction and plugin/pkg/admission/serviceaccount (what a node may create).
"""

from datetime import UTC, datetime

import pytest
from kubernetes import client as k8s

REFERENCES = {
    "service-account": {"serviceAccountName": "static-sa"},
    "secret": {"volumes": [{"name": "ref", "secret": {"secretName": "static-secret"}}]},
    "configmap": {"volumes": [{"name": "ref", "configMap": {"name": "static-cm"}}]},
}


def test_pod_in_a_missing_namespace_runs_and_gets_its_mirror_once_the_namespace_exists(
    namespaces, static_pods
):
    """kubelet.go tryReconcileMirrorPods (creation retried on each sync); NamespaceLifecycle admission."""
    namespace, since = f"absent-{static_pods.manifest().name}", datetime.now(UTC)
    pod = static_pods.place(static_pods.manifest().with_namespace(namespace))

    pod.wait_running()
    pod.wait_for_log(since, "Failed creating a mirror pod", f'namespaces \\"{namespace}\\" not found')
    assert pod.mirror() is None

    namespaces.create(namespace)
    pod.wait_for_running_mirror()


@pytest.mark.parametrize("reference", REFERENCES)
def test_pod_that_refers_to_api_objects_gets_no_mirror(namespaces, static_pods, cluster, reference):
    """docs (no references to API objects); noderestriction admitPodCreate; serviceaccount admission."""
    namespace = namespaces.create()
    create_referenced_objects(cluster.core, namespace)
    since = datetime.now(UTC)

    pod = static_pods.place(
        static_pods.manifest().with_namespace(namespace).with_spec(**REFERENCES[reference])
    )

    pod.wait_for_log(since, "Failed creating a mirror pod", f"{namespace}/{pod.mirror_name}")
    pod.assert_no_mirror()


def create_referenced_objects(core: k8s.CoreV1Api, namespace: str) -> None:
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
