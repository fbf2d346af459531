"""harness.cluster.apiclient without a cluster: the requests that reach the parent ApiClient are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import kubernetes.watch
import pytest

from harness.cluster.apiclient import RETRIES, BoundedApiClient, new_api_client
from harness.waiting import set_timeout_scale


class Sent(Exception):
    """Raised by the fake parent call_api once it has recorded the request: nothing goes out."""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    requests: list[dict[str, Any]] = []

    def call_api(self: k8s.ApiClient, method: str, url: str, **kwargs: Any) -> None:
        requests.append({"method": method, "url": url, **kwargs})
        raise Sent

    monkeypatch.setattr(k8s.ApiClient, "call_api", call_api)
    yield requests
    set_timeout_scale(1.0)


@pytest.fixture
def core() -> k8s.CoreV1Api:
    return k8s.CoreV1Api(BoundedApiClient(k8s.Configuration(host="https://127.0.0.1:6443")))


def test_a_request_without_a_timeout_gets_the_default(
    sent: list[dict[str, Any]], core: k8s.CoreV1Api
) -> None:
    with pytest.raises(Sent):
        core.list_namespaced_pod("default")
    (request,) = sent
    assert request["url"] == "https://127.0.0.1:6443/api/v1/namespaces/default/pods"
    assert request["_request_timeout"] == 30


def test_the_default_timeout_is_scaled_when_the_request_is_sent(
    sent: list[dict[str, Any]], core: k8s.CoreV1Api
) -> None:
    set_timeout_scale(2.5)
    with pytest.raises(Sent):
        core.read_namespace("default")
    assert sent[0]["_request_timeout"] == 75


@pytest.mark.parametrize("timeout", [5, (3, 20)])
def test_a_request_keeps_its_own_timeout(
    sent: list[dict[str, Any]], core: k8s.CoreV1Api, timeout: float | tuple[float, float]
) -> None:
    with pytest.raises(Sent):
        core.list_namespaced_pod("default", _request_timeout=timeout)
    assert sent[0]["_request_timeout"] == timeout


def test_a_watch_keeps_its_own_timeout(sent: list[dict[str, Any]], core: k8s.CoreV1Api) -> None:
    stream = kubernetes.watch.Watch().stream(
        core.list_namespaced_pod, "default", timeout_seconds=100, _request_timeout=110
    )
    with pytest.raises(Sent):
        next(stream)
    (request,) = sent
    assert "watch=true" in request["url"]
    assert request["_request_timeout"] == 110


def test_raw_requests_get_the_default_too(sent: list[dict[str, Any]], core: k8s.CoreV1Api) -> None:
    api = core.api_client
    method, url, headers, _, _ = api.param_serialize("GET", "/readyz")
    with pytest.raises(Sent):
        api.call_api(method, url, header_params=headers)
    assert sent[0]["_request_timeout"] == 30


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: kind-test
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: kind-test
  user: {token: abc}
contexts:
- name: kind-test
  context: {cluster: kind-test, user: kind-test}
current-context: kind-test
"""


def test_new_api_client_reads_the_kubeconfig_and_retries_transient_failures(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    client = new_api_client(kubeconfig)
    assert isinstance(client, BoundedApiClient)
    assert client.configuration.host == "https://127.0.0.1:6443"
    assert client.configuration.retries is RETRIES
    assert client.rest_client.pool_manager.connection_pool_kw["retries"] is RETRIES


def test_the_retries_are_for_transient_failures_of_idempotent_requests() -> None:
    assert (RETRIES.total, RETRIES.connect, RETRIES.read, RETRIES.status) == (5, 3, 0, 3)
    assert RETRIES.backoff_max == 2
    assert RETRIES.status_forcelist == (429, 500, 502, 503, 504)
    assert RETRIES.allowed_methods is not None
    assert {"GET", "PUT", "DELETE"} <= RETRIES.allowed_methods
    assert not {"POST", "PATCH"} & RETRIES.allowed_methods
    assert not RETRIES.respect_retry_after_header
    assert not RETRIES.raise_on_status
