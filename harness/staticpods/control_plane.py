"""The API server taken down and brought back, the way its own static pod allows.

kubeadm (and so kind) runs kube-apiserver as a static pod of the control-plane node's kubelet:
`kube-apiserver.yaml` in that kubelet's staticPodPath. Moving the file out of the path makes the
kubelet stop the API server; moving it back starts it again (docs "Create static Pods": moving a
manifest out of the directory stops the pod, moving it back starts it).
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from harness.cluster.cluster import Cluster
from harness.errors import HarnessError
from harness.interrupts import signals_held
from harness.node import ContainerStatus, Node, NodeCommandError
from harness.waiting import HoldBroken, hold_for, poll_until, scaled

APISERVER_MANIFEST = "kube-apiserver.yaml"
APISERVER_CONTAINER = "kube-apiserver"
# kubeadm labels each of its control-plane static pods (manifests/manifests.go, staticpod utils).
CONTROL_PLANE_LABEL = {"tier": "control-plane"}
# Where the manifest waits while the API server is down: root's home, outside any staticPodPath,
# under a name that says who put it there.
PARKED_MANIFEST = "/root/kube-apiserver.yaml.parked-by-static-pod-harness"
# Seconds, multiplied by --timeout-scale: the API server's shutdown, then its start from scratch.
STOP_TIMEOUT = 120
START_TIMEOUT = 240
_PROBE_TIMEOUT = 5
_PROBE_INTERVAL = 1.0
# Seconds the control plane must stay as it came back (not scaled: it is about the kubelet's first syncs).
SETTLE_WINDOW = 10
# How many times the control plane may change again within that window before the wait gives up.
SETTLE_ROUNDS = 3


def api_server_ready(api: k8s.ApiClient) -> bool:
    """Whether the API server answers GET /readyz with 200; no answer at all counts as not ready."""
    method, url, headers, _, _ = api.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
    try:
        response = api.call_api(method, url, header_params=headers, _request_timeout=scaled(_PROBE_TIMEOUT))
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


def _manifest_path(node: Node) -> str:
    directory = node.kubelet.static_pod_path()
    if not directory:
        raise HarnessError(f"the kubelet on {node.name} has no staticPodPath: no API server static pod")
    return posixpath.join(directory, APISERVER_MANIFEST)


def api_server_containers(node: Node) -> list[ContainerStatus]:
    """The kube-apiserver containers running on a control-plane node, as its runtime says."""
    return node.crictl.containers(state="running", name=APISERVER_CONTAINER)


@contextmanager
def api_server_stopped(cluster: Cluster) -> Iterator[None]:
    """The API server down for the body (its manifest parked outside the staticPodPath): it no
    longer answers /readyz and its container is gone (it stops answering before it has ended).

    The manifest goes back and the API server is waited ready afterwards, whatever happens,
    from the moment the manifest is moved.
    """
    node = cluster.control_plane
    manifest = _manifest_path(node)
    try:
        node.move(manifest, PARKED_MANIFEST)
        wait_api_server(cluster.api, ready=False, timeout=STOP_TIMEOUT)
        poll_until(
            lambda: not api_server_containers(node),
            timeout=STOP_TIMEOUT,
            expected=f"no kube-apiserver container running on {node.name}",
            retry_on=(NodeCommandError,),
        )
        yield
    finally:
        with signals_held("moving the API server's manifest back"):
            if not node.gone():
                if node.file(PARKED_MANIFEST).exists:
                    node.move(PARKED_MANIFEST, manifest)
                wait_api_server(cluster.api, ready=True, timeout=START_TIMEOUT)


@contextmanager
def control_plane_restored(cluster: Cluster) -> Iterator[None]:
    """For a body that may take the control plane's static pods down with it or replace them (a
    containerd restart: containerd 1.7 cleaned some running sandboxes up as "leaked shims"; a kubelet of
    another version: it may compute another config.hash for an unchanged manifest and recreate the pod).
    After the body, each control-plane static pod that had a ready sandbox before has one again, the
    API server answers ready, and both stay so, the same sandboxes, for SETTLE_WINDOW: the test's own
    checks, and the clean-up after it, talk to the control plane that came back.

    Why the window: a kubelet that replaces a pod does so at its first syncs after its restart, which
    may come after the old API server has answered /readyz. A new API server serves requests before it
    is ready, with an authorizer whose caches have not synced: kubernetes-admin then gets 403 ("cannot
    get path /version/"; seen right after a kubelet swap, and on containerd 1.7 after its restart). A
    body that fails is not waited after: its failure is the test's, and an interrupt deletes the cluster.
    """
    node = cluster.control_plane
    before = _ready_pod_names(node)
    yield
    for round_ in range(1, SETTLE_ROUNDS + 1):
        poll_until(
            lambda: before <= _ready_pod_names(node),
            timeout=START_TIMEOUT,
            expected=f"a ready sandbox again for each of {', '.join(sorted(before))} on {node.name}",
            describe=lambda: "ready: " + ", ".join(sorted(_ready_pod_names(node))),
            retry_on=(NodeCommandError,),
            interval=_PROBE_INTERVAL,
        )
        wait_api_server(cluster.api, ready=True, timeout=START_TIMEOUT)
        try:
            hold_for(
                lambda: (_ready_control_plane_pods(node), api_server_ready(cluster.api)),
                window=SETTLE_WINDOW,
                unchanged_from=(_ready_control_plane_pods(node), True),
                interval=_PROBE_INTERVAL,
                expected="the control plane's ready sandboxes, and the API server ready, unchanged",
            )
            return
        except HoldBroken:
            if round_ == SETTLE_ROUNDS:
                raise


def _ready_control_plane_pods(node: Node) -> frozenset[tuple[str, str]]:
    """(pod name, sandbox id) of each ready sandbox of a control-plane static pod."""
    return frozenset(
        (sandbox.name, sandbox.id) for sandbox in node.crictl.pods(label=CONTROL_PLANE_LABEL, state="ready")
    )


def _ready_pod_names(node: Node) -> set[str]:
    return {name for name, _ in _ready_control_plane_pods(node)}


def repair_parked_api_server(cluster: Cluster) -> None:
    """A run that was killed while the API server was down left its manifest parked: put it back."""
    node = cluster.control_plane
    if not node.file(PARKED_MANIFEST).exists:
        return
    manifest = _manifest_path(node)
    print(
        f"[harness] {node.name}: the API server's manifest was still parked at {PARKED_MANIFEST} "
        f"by an interrupted run: moved it back to {manifest}",
        file=sys.stderr,
    )
    node.move(PARKED_MANIFEST, manifest)
    wait_api_server(cluster.api, ready=True, timeout=START_TIMEOUT)
