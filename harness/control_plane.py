"""The API server taken down and brought back, the way its own static pod allows.

kubeadm (and so kind) runs kube-apiserver as a static pod of the control-plane node's kubelet:
`kube-apiserver.yaml` in that kubelet's staticPodPath. Moving the file out of the path makes the
kubelet stop the API server; moving it back starts it again (docs "Create static Pods": moving a
manifest out of the directory stops the pod, moving it back starts it).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from harness.cluster.cluster import Cluster
from harness.errors import HarnessError
from harness.settings import Settings
from harness.waiting import poll_until

APISERVER_MANIFEST = "kube-apiserver.yaml"
# Where the manifest waits while the API server is down: root's home, outside any staticPodPath.
PARKING_DIR = "/root"
# Seconds, multiplied by --timeout-scale: the API server's shutdown, then its start from scratch.
STOP_TIMEOUT = 120
START_TIMEOUT = 240
_PROBE_TIMEOUT = 5
_PROBE_INTERVAL = 1.0


def api_server_ready(api: k8s.ApiClient) -> bool:
    """Whether the API server answers GET /readyz with 200; no answer at all counts as not ready."""
    method, url, headers, _, _ = api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
    try:
        response = api.call_api(method, url, header_params=headers, _request_timeout=_PROBE_TIMEOUT)
        response.read()
    except (ApiException, HTTPError, OSError):
        return False
    return response.status == 200


def wait_api_server(api: k8s.ApiClient, *, ready: bool, timeout: float) -> None:
    """Wait until the API server is ready (`ready`) or no longer answers ready (not `ready`)."""
    poll_until(
        lambda: api_server_ready(api) == ready,
        timeout=timeout,
        interval=_PROBE_INTERVAL,
        expected="the API server " + ("ready" if ready else "down (not answering /readyz)"),
    )


@contextmanager
def api_server_stopped(cluster: Cluster, settings: Settings) -> Iterator[None]:
    """The API server down for the body (its manifest parked outside the staticPodPath).

    The manifest goes back and the API server is waited ready afterwards, whatever happens.
    """
    node = cluster.control_plane
    directory = node.kubelet.static_pod_path()
    if not directory:
        raise HarnessError(f"the kubelet on {node.name} has no staticPodPath: no API server static pod")
    manifest = posixpath.join(directory, APISERVER_MANIFEST)
    parked = posixpath.join(PARKING_DIR, APISERVER_MANIFEST)
    node.move(manifest, parked)
    try:
        wait_api_server(cluster.api, ready=False, timeout=settings.timeout(STOP_TIMEOUT))
        yield
    finally:
        node.move(parked, manifest)
        wait_api_server(cluster.api, ready=True, timeout=settings.timeout(START_TIMEOUT))
