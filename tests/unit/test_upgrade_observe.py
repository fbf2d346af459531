"""What the upgrade check sees of static pods: the Ready watch (harness.staticpods.ready_watch), through a
fake API and a scripted watch stream, and a snapshot of a pod, through a fake mirror and crictl."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any, ClassVar

import kubernetes.watch
import pytest
from kubernetes import client as k8s
from urllib3.exceptions import ProtocolError

from harness.node.crictl import ContainerStatus, PodSandbox
from harness.staticpods import ready_watch
from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION, Manifest
from harness.staticpods.pods import StaticPod
from harness.staticpods.ready_watch import ReadyWatch
from harness.upgrade.observe import ready_and_started, snapshot

KUBECONFIG = Path("/tmp/kubeconfig")
SELECTOR = "static-pod-harness/upgrade-check=upgrade-x1"
WAIT = 5.0  # seconds a test waits for the watch thread; it takes milliseconds

# --- the Ready watch ------------------------------------------------------------------------------


def mirror(name: str, ready: bool | None, version: str = "1", reason: str = "") -> k8s.V1Pod:
    """A mirror pod with a Ready condition (none when `ready` is None)."""
    conditions = (
        None
        if ready is None
        else [k8s.V1PodCondition(type="Ready", status=str(ready), reason=reason or None)]
    )
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, namespace="default", resource_version=version),
        status=k8s.V1PodStatus(phase="Running", conditions=conditions),
    )


def event(kind: str, pod: k8s.V1Pod) -> dict[str, Any]:
    return {"type": kind, "object": pod}


class FakeCore:
    """list_namespaced_pod answers from `lists`, one per call, the last one again when they run out."""

    def __init__(self, *lists: list[k8s.V1Pod]) -> None:
        self.lists = list(lists)
        self.calls: list[tuple[str, str]] = []

    def list_namespaced_pod(self, namespace: str, label_selector: str, **_: Any) -> Any:
        self.calls.append((namespace, label_selector))
        items = self.lists.pop(0) if len(self.lists) > 1 else self.lists[0]
        return NS(items=items, metadata=NS(resource_version=f"list-{len(self.calls)}"))


class FakeWatch:
    """kubernetes.watch.Watch whose streams play `script`: each step a list of events, optionally
    ending with an exception to raise. When the script has run out, `done` is set and streams are
    empty (a watch whose server-side timeout ended it)."""

    script: ClassVar[list[list[Any]]] = []
    streams: ClassVar[list[dict[str, Any]]] = []
    done = threading.Event()

    def stream(self, func: Any, namespace: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        FakeWatch.streams.append({"namespace": namespace, **kwargs})
        if not FakeWatch.script:
            FakeWatch.done.set()
            return
        for item in FakeWatch.script.pop(0):
            if isinstance(item, BaseException):
                raise item
            yield item


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Patches the module's API client and watch; set `core` and `script` before making a ReadyWatch."""
    made: dict[str, Any] = {"kubeconfigs": []}

    def new_api_client(kubeconfig: Path) -> str:
        made["kubeconfigs"].append(kubeconfig)
        return "api-client"

    monkeypatch.setattr(ready_watch, "new_api_client", new_api_client)
    monkeypatch.setattr(ready_watch.k8s, "CoreV1Api", lambda client: made["core"])
    monkeypatch.setattr(kubernetes.watch, "Watch", FakeWatch)
    monkeypatch.setattr(ready_watch, "_RETRY_SECONDS", 0.01)
    FakeWatch.script, FakeWatch.streams, FakeWatch.done = [], [], threading.Event()
    yield made


def watched(api: dict[str, Any], core: FakeCore, *script: list[Any]) -> ReadyWatch:
    """A ReadyWatch run until the watch played `script` (or stopped with an error)."""
    api["core"] = core
    FakeWatch.script = list(script)
    watch = ReadyWatch(KUBECONFIG, "default", SELECTOR)
    with watch.running():
        deadline = time.monotonic() + WAIT
        while not FakeWatch.done.is_set() and watch._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
    return watch


def states(watch: ReadyWatch, name: str = "web") -> list[tuple[bool, str]]:
    return [(t.ready, t.reason) for t in watch.transitions[f"default/{name}"]]


def test_the_first_list_is_made_before_the_body_runs(api: dict[str, Any]) -> None:
    api["core"] = core = FakeCore([mirror("web", True), mirror("db", False, reason="ContainersNotReady")])
    FakeWatch.script = []
    watch = ReadyWatch(KUBECONFIG, "default", SELECTOR)

    with watch.running():
        assert core.calls[0] == ("default", SELECTOR)
        assert states(watch, "web") == [(True, "")]
        assert states(watch, "db") == [(False, "ContainersNotReady")]

    assert api["kubeconfigs"] == [KUBECONFIG]


def test_modified_events_record_only_changes_of_ready(api: dict[str, Any]) -> None:
    flips = [
        event("MODIFIED", mirror("web", True, "2")),
        event("MODIFIED", mirror("web", False, "3", "ContainersNotReady")),
        event("MODIFIED", mirror("web", False, "4", "ContainersNotReady")),
        event("MODIFIED", mirror("web", True, "5")),
        event("MODIFIED", mirror("web", True, "6")),
    ]

    watch = watched(api, FakeCore([mirror("web", True)]), flips)

    assert states(watch) == [(True, ""), (False, "ContainersNotReady"), (True, "")]
    times = [t.time for t in watch.transitions["default/web"]]
    assert times == sorted(times) and all(t.tzinfo == UTC for t in times)
    assert watch.error is None
    # The watch goes on from the list's version, then from the last event's.
    assert FakeWatch.streams[0]["resource_version"] == "list-2"
    assert FakeWatch.streams[0]["label_selector"] == SELECTOR
    assert FakeWatch.streams[1]["resource_version"] == "6"


def test_a_mirror_without_a_ready_condition_is_not_ready(api: dict[str, Any]) -> None:
    watch = watched(api, FakeCore([mirror("web", None)]), [event("ADDED", mirror("web", True, "2"))])

    assert states(watch) == [(False, ""), (True, "")]


def test_a_deleted_mirror_is_not_ready_from_the_moment_it_goes(api: dict[str, Any]) -> None:
    script = [
        event("DELETED", mirror("web", True, "2")),  # the object as it was last: still Ready
        event("ADDED", mirror("web", False, "3", "ContainersNotReady")),
        event("MODIFIED", mirror("web", True, "4")),
    ]

    watch = watched(api, FakeCore([mirror("web", True)]), script)

    assert states(watch) == [(True, ""), (False, "MirrorDeleted"), (True, "")]


@pytest.mark.parametrize(
    "failure",
    [
        k8s.ApiException(status=410, reason="Gone"),
        k8s.ApiException(status=503, reason="Service Unavailable"),
        ProtocolError("Connection aborted."),
    ],
    ids=["gone", "unavailable", "dropped"],
)
def test_a_watch_that_fails_lists_again_and_goes_on(api: dict[str, Any], failure: Exception) -> None:
    core = FakeCore(
        [mirror("web", True)],  # running()'s list
        [mirror("web", True)],  # the thread's first
        [mirror("web", False, "9", "ContainersNotReady")],  # after the failure: what changed meanwhile
    )
    script = [
        [event("MODIFIED", mirror("web", True, "2")), failure],
        [event("MODIFIED", mirror("web", True, "10"))],
    ]

    watch = watched(api, core, *script)

    assert watch.error is None
    assert len(core.calls) == 3
    assert FakeWatch.streams[1]["resource_version"] == "list-3"
    assert states(watch) == [(True, ""), (False, "ContainersNotReady"), (True, "")]


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (
            k8s.ApiException(status=404, reason="Not Found"),
            "the Ready watch stopped: ApiException: 404 Not Found",
        ),
        (ValueError("bad event"), "the Ready watch stopped: ValueError: bad event"),
    ],
)
def test_an_error_that_is_no_outage_stops_the_watch_and_says_why(
    api: dict[str, Any], failure: Exception, error: str
) -> None:
    core = FakeCore([mirror("web", True)])
    script = [
        [event("MODIFIED", mirror("web", False, "2")), failure],
        [event("MODIFIED", mirror("web", True))],
    ]

    watch = watched(api, core, *script)

    assert watch.error == error
    assert not watch._thread.is_alive()
    assert len(FakeWatch.streams) == 1  # no second watch
    assert states(watch) == [(True, ""), (False, "")]


def test_running_returns_promptly_once_the_body_ends(
    api: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ready_watch, "_RETRY_SECONDS", 60)  # the thread waits between watches
    api["core"] = FakeCore([mirror("web", True)])
    watch = ReadyWatch(KUBECONFIG, "default", SELECTOR)

    with watch.running():
        assert FakeWatch.done.wait(WAIT)
        ended = time.monotonic()

    assert time.monotonic() - ended < 1
    assert not watch._thread.is_alive()


def test_a_mirror_missing_from_a_relist_counts_as_not_ready(api: dict[str, Any]) -> None:
    core = FakeCore([mirror("web", True)], [mirror("web", True)], [])
    script = [[k8s.ApiException(status=410, reason="Gone")], [event("ADDED", mirror("web", True, "9"))]]

    watch = watched(api, core, *script)

    assert states(watch) == [(True, ""), (False, "MirrorDeleted"), (True, "")]


# --- a snapshot of one pod ------------------------------------------------------------------------

STARTED = datetime(2026, 11, 27, 15, 0, 0, tzinfo=UTC)
MANIFEST = Manifest(
    {
        "kind": "Pod",
        "metadata": {"name": "upgrade-sidecar"},
        "spec": {
            "initContainers": [{"name": "init"}, {"name": "sidecar", "restartPolicy": "Always"}],
            "containers": [{"name": "app"}, {"name": "helper"}],
        },
    }
)
MIRROR_NAME = "upgrade-sidecar-kind-worker"


def status(name: str, container_id: str | None, restarts: int, state: k8s.V1ContainerState) -> Any:
    return k8s.V1ContainerStatus(
        name=name,
        container_id=container_id,
        image="testapp",
        image_id="",
        ready=True,
        restart_count=restarts,
        state=state,
    )


def running(at: datetime) -> k8s.V1ContainerState:
    return k8s.V1ContainerState(running=k8s.V1ContainerStateRunning(started_at=at))


def the_mirror() -> k8s.V1Pod:
    spec = k8s.V1PodSpec(
        init_containers=[
            k8s.V1Container(name="init"),
            k8s.V1Container(name="sidecar", restart_policy="Always"),
        ],
        containers=[k8s.V1Container(name="app"), k8s.V1Container(name="helper")],
    )
    done = k8s.V1ContainerStateTerminated(exit_code=0, started_at=STARTED, reason="Completed")
    waiting = k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(reason="ContainerCreating"))
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            name=MIRROR_NAME, uid="uid-1", annotations={CONFIG_HASH_ANNOTATION: "c33ddbde", "other": "x"}
        ),
        spec=spec,
        status=k8s.V1PodStatus(
            phase="Running",
            init_container_statuses=[
                status("init", "containerd://aaa111", 0, k8s.V1ContainerState(terminated=done)),
                status("sidecar", "containerd://bbb222", 2, running(STARTED)),
            ],
            container_statuses=[
                status("app", "containerd://ccc333", 1, running(STARTED.replace(second=9))),
                status("helper", None, 0, waiting),
            ],
        ),
    )


def crictl_container(container_id: str, name: str, attempt: int) -> ContainerStatus:
    return ContainerStatus(
        id=container_id,
        pod_sandbox_id="sandbox-new",
        name=name,
        image="testapp",
        image_ref="",
        state="CONTAINER_RUNNING",
        attempt=attempt,
        created_at=STARTED,
    )


class FakeCrictl:
    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def containers(self, **kwargs: Any) -> list[ContainerStatus]:
        return [
            crictl_container("aaa111", "init", 0),
            crictl_container("bbb222", "sidecar", 2),
            crictl_container("ccc333", "app", 1),
        ]

    def pods(self, **kwargs: Any) -> list[PodSandbox]:
        self.asked.append(kwargs)
        return [
            PodSandbox("sandbox-new", MIRROR_NAME, "default", "u", "SANDBOX_READY", STARTED, 1),
            PodSandbox("sandbox-old", MIRROR_NAME, "default", "u", "SANDBOX_NOTREADY", STARTED, 0),
        ]


class FakeMirrorApi:
    def __init__(self, found: k8s.V1Pod | None) -> None:
        self.found = found

    def read_namespaced_pod(self, name: str, namespace: str) -> k8s.V1Pod:
        assert (name, namespace) == (MIRROR_NAME, "default")
        if self.found is None:
            raise k8s.ApiException(status=404, reason="Not Found")
        return self.found


def static_pod(found: k8s.V1Pod | None, crictl: FakeCrictl | None = None) -> StaticPod:
    node = NS(name="kind-worker", crictl=crictl or FakeCrictl())
    return StaticPod(node, "/etc/kubernetes/manifests/upgrade-sidecar.yaml", MANIFEST, FakeMirrorApi(found))  # type: ignore[arg-type]


def test_a_snapshot_records_the_mirror_and_what_crictl_runs() -> None:
    crictl = FakeCrictl()

    record = snapshot(static_pod(the_mirror(), crictl))

    assert record is not None
    assert (record.namespace, record.mirror_name, record.mirror_uid) == ("default", MIRROR_NAME, "uid-1")
    assert (record.config_hash, record.phase) == ("c33ddbde", "Running")
    assert record.sandbox_ids == ("sandbox-new", "sandbox-old")
    assert crictl.asked == [{"name": MIRROR_NAME, "namespace": "default"}]
    rows = [(c.name, c.kind, c.container_id, c.attempt, c.restart_count, c.state) for c in record.containers]
    assert rows == [
        ("init", "init", "aaa111", 0, 0, "terminated"),
        ("sidecar", "sidecar", "bbb222", 2, 2, "running"),
        ("app", "container", "ccc333", 1, 1, "running"),
        ("helper", "container", "", 0, 0, "waiting"),
    ]
    assert [c.started_at for c in record.containers] == [STARTED, STARTED, STARTED.replace(second=9), None]


def test_a_pod_without_annotations_has_an_empty_hash() -> None:
    found = the_mirror()
    found.metadata.annotations = None

    record = snapshot(static_pod(found))

    assert record is not None and record.config_hash == ""


def test_no_snapshot_without_a_mirror() -> None:
    assert snapshot(static_pod(None)) is None


# --- Ready and Started, as the upgrade check's watch sees them -----------------------------------


def with_containers(pod: k8s.V1Pod, *started: bool | None) -> k8s.V1Pod:
    running = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning())
    pod.status.container_statuses = [
        k8s.V1ContainerStatus(
            name=f"c{i}", image="i", image_id="", ready=True, restart_count=0, started=s, state=running
        )
        for i, s in enumerate(started)
    ]
    return pod


def test_a_running_container_not_started_makes_the_pod_not_ready() -> None:
    """KEP-4781: before 1.35 a restarted kubelet resets Started too; the watch must see it."""
    assert ready_and_started(with_containers(mirror("a", True), True, False)) == (False, "NotStarted: c1")


def test_started_containers_leave_the_ready_condition_as_it_is() -> None:
    assert ready_and_started(with_containers(mirror("a", True), True, None)) == (True, "")
    assert ready_and_started(with_containers(mirror("a", False, reason="ContainersNotReady"), True)) == (
        False,
        "ContainersNotReady",
    )
