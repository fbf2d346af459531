"""crictl's JSON (samples in data/, shaped after cri-tools' output code) parsed into records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.node.commands import ExecResult
from harness.node.crictl import ContainerStatus, Crictl, PodSandbox, parse_cri_time

DATA = Path(__file__).parent / "data"
NODE = "static-pods-control-plane"
WEB = f"static-web-{NODE}"


def sample(name: str) -> str:
    return (DATA / name).read_text()


class StubNode:
    """Answers `crictl <verb>` with a canned stdout, recording every argv."""

    name = NODE

    def __init__(self, **stdout_by_verb: str) -> None:
        self.stdout_by_verb = stdout_by_verb
        self.calls: list[tuple[str, ...]] = []

    def run(self, *argv: str, check: bool = True) -> ExecResult:
        self.calls.append(argv)
        return ExecResult(argv, 0, self.stdout_by_verb.get(argv[1], ""), "", NODE)


def crictl(**stdout_by_verb: str) -> tuple[Crictl, StubNode]:
    node = StubNode(**stdout_by_verb)
    return Crictl(node), node  # type: ignore[arg-type]


def test_pods_parse_into_sandboxes_newest_first() -> None:
    client, _ = crictl(pods=sample("crictl_pods.json"))
    pods = client.pods()
    assert [(p.name, p.attempt) for p in pods] == [(WEB, 1), (WEB, 0), (f"etcd-{NODE}", 0)]
    newest = pods[0]
    assert newest == PodSandbox(
        id="5b2f0e8c7d1a9b3e4f6a2c8d0e1b7f9a3c5d2e4f6a8b0c1d3e5f7a9b2c4d6e8f",
        name=WEB,
        namespace="default",
        uid="3f1b2c9d8e7a6b5c4d3e2f1a0b9c8d7e",
        state="SANDBOX_READY",
        created_at=datetime(2024, 11, 27, 7, 4, 33, 905117, tzinfo=UTC),
        attempt=1,
        labels=newest.labels,
        annotations=newest.annotations,
    )
    assert newest.ready and not pods[1].ready
    assert newest.annotations["kubernetes.io/config.source"] == "file"
    assert newest.labels["app"] == "static-web"


def test_pod_filters_become_crictl_flags_with_exact_names() -> None:
    client, node = crictl(pods='{"items": []}')
    assert client.pods(name="static-web.a", namespace="default", state="ready", label={"app": "web"}) == []
    assert node.calls == [
        (
            "crictl", "pods", "-o", "json",
            "--name", r"^static-web\.a$",
            "--namespace", "^default$",
            "--state", "ready",
            "--label", "app=web",
        )
    ]  # fmt: skip


def test_containers_parse_with_pod_identity_from_labels() -> None:
    client, _ = crictl(ps=sample("crictl_ps.json"))
    containers = client.containers()
    assert [(c.name, c.attempt, c.state) for c in containers] == [
        ("web", 1, "CONTAINER_RUNNING"),
        ("web", 0, "CONTAINER_EXITED"),
        ("etcd", 0, "CONTAINER_RUNNING"),
    ]
    web = containers[0]
    assert web.pod_sandbox_id == "5b2f0e8c7d1a9b3e4f6a2c8d0e1b7f9a3c5d2e4f6a8b0c1d3e5f7a9b2c4d6e8f"
    assert (web.pod_name, web.pod_namespace, web.pod_uid) == (
        WEB,
        "default",
        "3f1b2c9d8e7a6b5c4d3e2f1a0b9c8d7e",
    )
    assert web.image.startswith("sha256:") and web.image_ref == web.image
    assert web.created_at == datetime(2024, 11, 27, 7, 4, 34, 218843, tzinfo=UTC)
    assert web.running and not containers[1].running
    assert (web.started_at, web.finished_at, web.exit_code) == (None, None, None)


def test_container_filters_become_crictl_flags() -> None:
    client, node = crictl(ps='{"containers": []}')
    client.containers(pod="5b2f0e8c", name="web", state="running", pod_name=WEB, pod_namespace="default")
    client.containers(all=False)
    assert node.calls == [
        (
            "crictl", "ps", "-o", "json", "--all",
            "--pod", "5b2f0e8c",
            "--name", "^web$",
            "--state", "running",
            "--label", f"io.kubernetes.pod.name={WEB}",
            "--label", "io.kubernetes.pod.namespace=default",
        ),
        ("crictl", "ps", "-o", "json"),
    ]  # fmt: skip


def test_status_of_an_exited_container_has_times_and_exit_code() -> None:
    client, node = crictl(inspect=sample("crictl_inspect_exited.json"))
    status = client.status("8a3c5e7f")
    assert node.calls == [("crictl", "inspect", "-o", "json", "8a3c5e7f")]
    assert status.state == "CONTAINER_EXITED"
    assert status.exit_code == 137 and status.reason == "Error"
    assert status.started_at == datetime(2024, 11, 27, 7, 2, 1, 749120, tzinfo=UTC)
    assert status.finished_at == datetime(2024, 11, 27, 7, 4, 31, 52716, tzinfo=UTC)
    assert status.pod_sandbox_id == "0c4d6e8f1a3b5c7d9e2f4a6b8c0d1e3f5a7b9c2d4e6f8a0b1c3d5e7f9a2b4c6d"
    assert status.image == "docker.io/library/busybox:1.36"
    assert status.pod_name == WEB


def test_status_of_a_running_container_has_no_finish_nor_exit_code() -> None:
    client, _ = crictl(inspect=sample("crictl_inspect_running.json"))
    status = client.status("1f3e5d7c")
    assert status.running and status.attempt == 1
    assert status.started_at is not None
    assert (status.finished_at, status.exit_code) == (None, None)


def test_inspect_and_list_agree_on_the_same_container() -> None:
    listed = {
        c.id: c for c in map(ContainerStatus.from_cri, json.loads(sample("crictl_ps.json"))["containers"])
    }
    inspected = ContainerStatus.from_inspect(json.loads(sample("crictl_inspect_running.json")))
    same = listed[inspected.id]
    assert (same.pod_sandbox_id, same.created_at, same.labels) == (
        inspected.pod_sandbox_id,
        inspected.created_at,
        inspected.labels,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1732690921123456789", datetime(2024, 11, 27, 7, 2, 1, 123456, tzinfo=UTC)),
        (1732690921123456789, datetime(2024, 11, 27, 7, 2, 1, 123456, tzinfo=UTC)),
        ("2024-11-27T07:02:01.123456789Z", datetime(2024, 11, 27, 7, 2, 1, 123456, tzinfo=UTC)),
        ("0", None),
        ("", None),
        (None, None),
        ("0001-01-01T00:00:00Z", None),
    ],
)
def test_parse_cri_time(value: Any, expected: datetime | None) -> None:
    assert parse_cri_time(value) == expected


def test_exec_and_stop_argv() -> None:
    client, node = crictl()
    client.exec("1f3e5d7c", "sh", "-c", "echo hi")
    client.stop("1f3e5d7c")
    assert node.calls == [
        ("crictl", "exec", "--sync", "1f3e5d7c", "sh", "-c", "echo hi"),
        ("crictl", "stop", "1f3e5d7c"),
    ]
