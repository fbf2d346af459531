"""StaticPod's description of what it last saw: the node's containers and the kubelet's own reason."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace as NS
from typing import Any

import pytest
from kubernetes import client as k8s

from harness.staticpods.manifest import Manifest
from harness.staticpods.pods import StaticPod, StaticPods

MANIFEST = Manifest({"kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "app"}]}})


class FakeCore:
    def __init__(self, mirror: Any, events: list[Any]) -> None:
        self._mirror, self._events = mirror, events

    def read_namespaced_pod(self, name: str, namespace: str) -> Any:
        if self._mirror is None:
            raise k8s.ApiException(status=404)
        return self._mirror

    def list_namespaced_event(self, namespace: str, field_selector: str) -> Any:
        assert field_selector == "involvedObject.name=web-kind-worker"
        return NS(items=self._events)


def pod(mirror: Any, events: list[Any] = ()) -> StaticPod:
    node = NS(name="kind-worker", crictl=NS(containers=lambda **_: []))
    return StaticPod(node, "/etc/kubernetes/manifests/web.yaml", MANIFEST, FakeCore(mirror, list(events)))  # type: ignore[arg-type]


def waiting(reason: str, message: str) -> Any:
    state = NS(waiting=NS(reason=reason, message=message), terminated=None)
    return NS(name="app", state=state)


def event(reason: str, message: str, second: int) -> Any:
    return NS(reason=reason, message=message, last_timestamp=datetime(2026, 1, 1, 0, 0, second, tzinfo=UTC))


def test_an_image_that_cannot_be_pulled_is_named_with_the_kubelets_reason_and_latest_event() -> None:
    mirror = NS(
        status=NS(init_container_statuses=None, container_statuses=[waiting("ErrImagePull", "no registry")])
    )
    events = [event("Pulling", "Pulling image", 1), event("Failed", "Failed to pull image", 2)]

    text = pod(mirror, events).describe()

    assert text == (
        "no containers; mirror: app ErrImagePull (no registry); latest event: Failed: Failed to pull image"
    )


def test_without_a_mirror_it_says_so() -> None:
    assert pod(None).describe() == "no containers; no mirror pod"


# --- assert_not_run: what it checks once the kubelet has provably looked --------------------------


def not_run_with(listed: dict[str, str], sandboxes: list[Any], mirror: Any) -> None:
    node = NS(name="kind-worker", crictl=NS(containers=lambda **_: [], pods=lambda **_: sandboxes))
    under_test = StaticPod(node, "/etc/kubernetes/manifests/.web.yaml", MANIFEST, FakeCore(mirror, []))  # type: ignore[arg-type]
    pods = StaticPods(cluster=NS(), image="img")  # type: ignore[arg-type]
    pods.wait_kubelet_caught_up = lambda node, relist=False: listed  # type: ignore[method-assign]
    pods.assert_not_run(under_test)


def test_not_run_passes_when_the_kubelet_lists_only_others_and_nothing_of_the_pod_exists() -> None:
    not_run_with({"sentinel-x-kind-worker": "u1"}, sandboxes=[], mirror=None)


@pytest.mark.parametrize(
    ("listed", "sandboxes", "mirror", "found"),
    [
        ({"web-kind-worker": "u2"}, [], None, "in the kubelet's pod list"),
        ({}, ["sandbox"], None, "sandboxes"),
        ({}, [], NS(metadata=NS(name="web-kind-worker")), "mirror pod"),
    ],
)
def test_not_run_fails_on_any_trace_of_the_pod(listed: Any, sandboxes: Any, mirror: Any, found: str) -> None:
    with pytest.raises(AssertionError, match=f"the kubelet runs web-kind-worker from kind-worker:.*{found}"):
        not_run_with(listed, sandboxes, mirror)
