"""harness.staticpods.control_plane: whether the API server answers ready, with a fake API client."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from harness.node.crictl import PodSandbox
from harness.staticpods.control_plane import api_server_ready, control_plane_restored, wait_api_server
from harness.waiting import HoldBroken, WaitTimeout


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status

    def read(self) -> bytes:
        return b"ok"


class FakeApi:
    """Answers GET /readyz with `outcome`: a status code, or an exception to raise."""

    def __init__(self, outcome: int | Exception) -> None:
        self.outcome = outcome
        self.requests: list[tuple[str, str]] = []

    def param_serialize(self, method: str, resource_path: str, **_: Any) -> tuple[Any, ...]:
        return method, f"https://api{resource_path}", {}, None, []

    def call_api(self, method: str, url: str, **_: Any) -> FakeResponse:
        self.requests.append((method, url))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return FakeResponse(self.outcome)


@pytest.mark.parametrize(
    ("outcome", "ready"),
    [
        (200, True),
        (500, False),
        (ApiException(status=503), False),
        (MaxRetryError(None, "/readyz", "connection refused"), False),  # type: ignore[arg-type]
        (ConnectionRefusedError(), False),
    ],
)
def test_api_server_is_ready_only_when_readyz_answers_200(outcome: int | Exception, ready: bool) -> None:
    api = FakeApi(outcome)
    assert api_server_ready(api) is ready  # type: ignore[arg-type]
    assert api.requests == [("GET", "https://api/readyz")]


def test_waiting_for_the_api_server_down_says_so_on_timeout() -> None:
    with pytest.raises(
        WaitTimeout, match=r"expected the API server down \(not answering /readyz\) within 0s"
    ):
        wait_api_server(FakeApi(200), ready=False, timeout=0)  # type: ignore[arg-type]
    wait_api_server(FakeApi(ConnectionRefusedError()), ready=False, timeout=0)  # type: ignore[arg-type]


class FakeCrictl:
    """Answers each `pods` call with the next list of ready sandbox names (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def pods(self, **filters: Any) -> list[PodSandbox]:
        self.calls.append(filters)
        names = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        # "kube-apiserver-cp#2": the pod kube-apiserver-cp in another sandbox (a replaced pod)
        return [
            PodSandbox(f"id-{n}", n.partition("#")[0], "kube-system", f"uid-{n}", "SANDBOX_READY", None, 0)
            for n in names
        ]


class FakeNode:
    name = "cp"

    def __init__(self, crictl: FakeCrictl) -> None:
        self.crictl = crictl

    def gone(self) -> bool:
        return False


class FakeCluster:
    def __init__(self, crictl: FakeCrictl, api: FakeApi) -> None:
        self.control_plane = FakeNode(crictl)
        self.api = api


CONTROL_PLANE = ["etcd-cp", "kube-apiserver-cp", "kube-scheduler-cp"]


def test_control_plane_restored_waits_until_every_control_plane_pod_is_ready_again(monkeypatch) -> None:
    monkeypatch.setattr("harness.staticpods.control_plane._PROBE_INTERVAL", 0)
    monkeypatch.setattr("harness.staticpods.control_plane.SETTLE_WINDOW", 0.05)
    crictl = FakeCrictl(CONTROL_PLANE, ["etcd-cp"], ["etcd-cp", "kube-scheduler-cp"], CONTROL_PLANE)
    api = FakeApi(200)

    with control_plane_restored(FakeCluster(crictl, api)):  # type: ignore[arg-type]
        pass

    assert len(crictl.calls) >= 4
    assert crictl.calls[0] == {"label": {"tier": "control-plane"}, "state": "ready"}
    assert set(api.requests) == {("GET", "https://api/readyz")}


def test_a_control_plane_pod_replaced_after_the_api_server_answered_is_waited_for_again(monkeypatch) -> None:
    """A kubelet of another version replaces the API server at its first syncs, after the old one
    answered ready: the new one would answer 403 until its authorizer synced."""
    monkeypatch.setattr("harness.staticpods.control_plane._PROBE_INTERVAL", 0)
    monkeypatch.setattr("harness.staticpods.control_plane.SETTLE_WINDOW", 0.05)
    replaced = ["etcd-cp", "kube-apiserver-cp#2", "kube-scheduler-cp"]
    crictl = FakeCrictl(CONTROL_PLANE, CONTROL_PLANE, CONTROL_PLANE, replaced)

    with control_plane_restored(FakeCluster(crictl, FakeApi(200))):  # type: ignore[arg-type]
        pass

    assert crictl.answers == [replaced]  # it went on until the replacement had held for the window


def test_a_control_plane_that_keeps_changing_fails_the_wait(monkeypatch) -> None:
    monkeypatch.setattr("harness.staticpods.control_plane._PROBE_INTERVAL", 0)
    monkeypatch.setattr("harness.staticpods.control_plane.SETTLE_WINDOW", 0.05)
    crictl = FakeCrictl(*[[f"{n}#{i}" for n in CONTROL_PLANE] for i in range(60)])

    with pytest.raises(HoldBroken), control_plane_restored(FakeCluster(crictl, FakeApi(200))):  # type: ignore[arg-type]
        pass


def test_control_plane_restored_names_the_pods_not_back_and_does_not_wait_after_a_failing_body(
    monkeypatch,
) -> None:
    monkeypatch.setattr("harness.staticpods.control_plane.START_TIMEOUT", 0)
    crictl = FakeCrictl(CONTROL_PLANE, ["etcd-cp"])

    with pytest.raises(WaitTimeout) as timeout, control_plane_restored(FakeCluster(crictl, FakeApi(200))):  # type: ignore[arg-type]
        pass
    assert "a ready sandbox again for each of etcd-cp, kube-apiserver-cp, kube-scheduler-cp" in str(
        timeout.value
    )
    assert "ready: etcd-cp" in str(timeout.value)

    crictl = FakeCrictl(CONTROL_PLANE, ["etcd-cp"])
    with pytest.raises(RuntimeError), control_plane_restored(FakeCluster(crictl, FakeApi(200))):  # type: ignore[arg-type]
        raise RuntimeError("the body failed")
    assert len(crictl.calls) == 1
