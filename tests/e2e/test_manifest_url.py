"""Static pods from a URL: the kubelet's staticPodURL (`--manifest-url`), fetched every httpCheckFrequency.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ ("Web-hosted static pod
manifest": the kubelet downloads the file periodically and interprets it like a file in
staticPodPath); kubelet-config.v1beta1 (staticPodURL, staticPodURLHeader, httpCheckFrequency);
pkg/kubelet/config/http.go (a non-200 answer is logged and changes nothing; an empty body removes
every pod of the URL).
"""

import secrets
from datetime import UTC, datetime

import pytest

from harness.staticpods.manifest import CONFIG_SOURCE_ANNOTATION
from harness.staticpods.manifest_url import manifest_server
from harness.staticpods.pods import StaticPod

HTTP_CHECK_FREQUENCY = 2  # seconds (default 20 s)
HEADER = "X-Static-Pod-Harness"
# A failed fetch is retried every httpCheckFrequency: this many of them show it changes nothing.
FAILED_FETCHES = 3


@pytest.mark.disruptive  # the kubelet is restarted with a manifest URL
def test_manifest_url_runs_its_pod_follows_changes_keeps_it_on_errors_and_stops_it_when_empty(
    kubelet_reconfigured, static_pods, kind_cluster_ready
):
    """docs "Web-hosted static pod manifest"; http.go extractFromURL (header sent; 404 keeps the last pods;
    zero-length data removes them); kubelet-config staticPodURL, staticPodURLHeader, httpCheckFrequency."""
    node, manifest, token = static_pods.default_node(), static_pods.manifest(), secrets.token_hex(8)
    with manifest_server(node) as (url, served):
        served.serve(manifest.to_yaml())
        kubelet_reconfigured(
            node,
            staticPodURL=url,
            staticPodURLHeader={HEADER: [token]},
            httpCheckFrequency=f"{HTTP_CHECK_FREQUENCY}s",
        )
        pod = StaticPod(node, url, manifest, kind_cluster_ready.core)

        first, container = pod.wait_up()
        assert first.metadata.annotations[CONFIG_SOURCE_ANNOTATION] == "http"
        assert all(headers.get(HEADER) == token for headers in served.headers_seen())

        served.serve(manifest.with_labels(version="2").to_yaml())
        assert pod.wait_for_new_mirror(first.metadata.uid).metadata.labels["version"] == "2"
        second = pod.wait_running(other_than=container)

        since = datetime.now(UTC)
        served.serve(b"not here\n", status=404)
        node.kubelet.wait_for_log(since, "Failed to read pods from URL", timeout=10 * HTTP_CHECK_FREQUENCY)
        pod.assert_container_kept(second, window=FAILED_FETCHES * HTTP_CHECK_FREQUENCY)

        served.serve(b"")
        pod.wait_containers_gone()
        pod.wait_for_mirror_gone()
