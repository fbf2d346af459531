"""The kubelet's pod sources as its unit tests describe them, seen end to end: symlinks, renames, a PodList
over HTTP, defaults and refusals applied while decoding.

Sources: pkg/kubelet/config/file.go (listConfig and extractFromDir os.Stat every path, so symlinks are
followed; the re-list reads every file again), file_linux.go (inotify events of the directory itself:
create, write, remove, rename), common.go (applyDefaults: the UID hashes the pod and the file's path;
tryDecodeSinglePod, tryDecodePodList; HasAPIObjectReference from 1.34), http.go (a single pod or a
PodList), pkg/apis/core/v1/defaults.go SetDefaults_Pod; the kubelet's unit tests file_linux_test.go,
file_test.go, http_test.go, common_test.go.
"""

from __future__ import annotations

import json
import posixpath
from datetime import UTC, datetime

import pytest

from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION as HASH
from harness.staticpods.manifest import CONFIG_SOURCE_ANNOTATION, unique_name
from harness.staticpods.manifest_url import manifest_server
from harness.staticpods.pods import StaticPod
from harness.versions import Behaviour
from harness.waiting import deliberate

HTTP_CHECK_FREQUENCY = 2  # seconds (default 20 s)
# What a manifest says, and the word the kubelet's refusal uses for it before 1.34 (its
# ErrStaticPodTriedToUse* errors) and from 1.34 (HasAPIObjectReference).
UNUSABLE = {
    "clustertrustbundles": (
        {
            "volumes": [
                {
                    "name": "ctb",
                    "projected": {"sources": [{"clusterTrustBundle": {"name": "ca", "path": "ca.pem"}}]},
                }
            ]
        },
        "static pods may not use ClusterTrustBundle projected volume sources",
    ),
    "resourceclaims": (
        {"resourceClaims": [{"name": "device", "resourceClaimName": "claim"}]},
        "static pods may not use ResourceClaims",
    ),
}


def test_a_symlinked_manifest_runs_follows_its_target_and_a_new_target(node_dirs, static_pods):
    """file.go extractFromDir (os.Stat follows a link to a regular file; a change of the target, outside the
    watched directory, is seen at the next re-list); file_linux.go (`ln -sfn` is a remove and a create of
    the link itself)."""
    node, manifest = static_pods.default_node(), static_pods.manifest()
    outside = node_dirs(node, f"/etc/{unique_name('targets')}")
    target = static_pods.place(manifest, node=node, filename=f"{outside}/first.yaml")
    link = posixpath.join(static_pods.manifest_dir(node), f"{manifest.name}.yaml")
    static_pods.extra_files.append((node, link))

    node.run("ln", "-s", target.path, link)
    first = target.wait_for_running_mirror()
    target.rewrite(manifest.with_labels(version="2"))
    with deliberate():  # the next re-list: no inotify event comes from outside the directory
        target.wait_for_mirror(lambda m: m.metadata.labels.get("version") == "2", "from the changed target")
    second = static_pods.place(
        manifest.with_labels(version="3"), node=node, filename=f"{outside}/second.yaml"
    )
    node.run("ln", "-sfn", second.path, link)

    third = second.wait_for_mirror(lambda m: m.metadata.labels.get("version") == "3", "from the new target")
    assert third.metadata.uid != first.metadata.uid
    second.wait_for_running_mirror()


@pytest.mark.disruptive
@pytest.mark.kind_config("multi-node")
def test_a_symlinked_static_pod_path_is_followed(kubelet_reconfigured, node_dirs, static_pods):
    """file.go listConfig (os.Stat follows the link to a directory); file_linux.go (inotify watches
    what the link points to)."""
    node = static_pods.default_node()
    real = node_dirs(node, f"/etc/{unique_name('real-manifests')}")
    link = f"/etc/{unique_name('linked-manifests')}"
    node.run("ln", "-s", real, link)
    static_pods.extra_files.append((node, link))
    kubelet_reconfigured(node, staticPodPath=link)
    manifest = static_pods.manifest()

    pod = static_pods.place(manifest, node=node, filename=f"{real}/{manifest.name}.yaml")

    pod.wait_for_running_mirror()
    assert node.kubelet.static_pod_path() == link


def test_renames_within_out_of_and_into_the_manifest_directory(node_dirs, static_pods):
    """file_linux.go (a rename is a removal of the old name and a creation of the new); common.go
    applyDefaults (the UID hashes the file's path: a rename within the directory makes another pod)."""
    pod = static_pods.place(static_pods.manifest())
    old, _ = pod.wait_up()
    node, outside = pod.node, node_dirs(pod.node, f"/etc/{unique_name('moved-out')}")

    _move(pod, f"{pod.path}.renamed")
    pod.wait_replaced(old.metadata.annotations[HASH])
    renamed = pod.wait_for_new_mirror(old.metadata.uid)
    assert renamed.metadata.annotations[HASH] != old.metadata.annotations[HASH]
    _move(pod, posixpath.join(outside, posixpath.basename(pod.path)))
    pod.wait_containers_gone()
    pod.wait_for_mirror_gone()
    _move(pod, posixpath.join(static_pods.manifest_dir(node), f"{pod.name}.yaml"))

    back = pod.wait_for_running_mirror()
    assert back.metadata.annotations[HASH] == old.metadata.annotations[HASH]  # the same path and pod again


def _move(pod: StaticPod, to: str) -> None:
    pod.node.move(pod.path, to)
    pod.path = to


@pytest.mark.disruptive  # the kubelet is restarted with a manifest URL
def test_a_manifest_url_serving_a_pod_list_runs_each_pod_and_stops_the_one_left_out(
    kubelet_reconfigured, static_pods, kind_cluster_ready
):
    """http.go extractFromURL (tryDecodeSinglePod, then tryDecodePodList; each fetch replaces the URL's
    pods); http_test.go (a PodList of several pods)."""
    node, manifests = static_pods.default_node(), [static_pods.manifest(), static_pods.manifest()]
    with manifest_server(node) as (url, served):
        served.serve(_pod_list(manifests))
        kubelet_reconfigured(node, staticPodURL=url, httpCheckFrequency=f"{HTTP_CHECK_FREQUENCY}s")
        pods = [StaticPod(node, url, m, kind_cluster_ready.core) for m in manifests]

        (first, kept), (second, _) = [p.wait_up() for p in pods]
        assert {m.metadata.annotations[CONFIG_SOURCE_ANNOTATION] for m in (first, second)} == {"http"}
        served.serve(_pod_list(manifests[:1]))
        pods[1].wait_containers_gone()
        pods[1].wait_for_mirror_gone()
        pods[0].assert_container_kept(kept, window=2 * HTTP_CHECK_FREQUENCY)

        served.serve(b"")
        pods[0].wait_containers_gone()
        pods[0].wait_for_mirror_gone()


def _pod_list(manifests) -> bytes:
    return json.dumps(
        {"apiVersion": "v1", "kind": "PodList", "items": [m.to_dict() for m in manifests]}
    ).encode()


def test_a_negative_termination_grace_period_is_made_1(static_pods):
    """pkg/apis/core/v1/defaults.go SetDefaults_Pod (a negative terminationGracePeriodSeconds becomes 1),
    applied as the kubelet decodes the manifest (common.go tryDecodeSinglePod); common_test.go."""
    pod = static_pods.place(static_pods.manifest().with_grace_period(-1))

    assert pod.wait_for_running_mirror().spec.termination_grace_period_seconds == 1


@pytest.mark.parametrize("resource", UNUSABLE)
def test_cluster_trust_bundle_and_resource_claim_are_refused(static_pods, kind_cluster_ready, resource):
    """common.go tryDecodeSinglePod: "static pods may not use ClusterTrustBundle projected volume sources",
    "static pods may not use ResourceClaims"; from 1.34 HasAPIObjectReference ("static pods may not
    reference clustertrustbundles", "resourceclaims"); common_test.go."""
    spec, before_1_34 = UNUSABLE[resource]
    since = datetime.now(UTC)

    pod = static_pods.place(static_pods.manifest().with_spec(**spec))

    refuses_references = kind_cluster_ready.kubelet_version(pod.node.name).has(
        Behaviour.KUBELET_REFUSES_API_REFERENCES
    )
    static_pods.assert_refused(
        pod, since, f"static pods may not reference {resource}" if refuses_references else before_1_34
    )
