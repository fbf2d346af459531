"""Provisioner, leftovers and node-image resolution (harness.provision), with fakes for kind and Docker."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest

from harness.cluster.hostfacts import HostFacts
from harness.errors import HarnessError
from harness.nodeimage import choose
from harness.nodeimage.assemble import LABEL_BUILDER_PID, LABEL_VERSION
from harness.provision import leftovers, nodeimages
from harness.provision import provisioner as prov_module
from harness.provision.nodeimages import NodeImage
from harness.provision.provisioner import Provisioner, ProvisionRequest
from harness.versions import KubeVersion
from harness.waiting import WaitTimeout

VERSION = KubeVersion.parse("1.34.4")
CGROUP_V1_HOST = HostFacts(can_lower_oom_score=False, cgroup_v1=True)
SINGLE = Path("kind-configs/single-node.yaml")
MULTI = Path("kind-configs/multi-node.yaml")
NODE_IMAGE = NodeImage("kindest/node:v1.34.4@sha256:abc", offline=True)
TEST_IMAGE = "static-pod-harness/testapp:0123"


@dataclass
class FakeHandle:
    """pytest-kind's KindCluster, as far as the provisioner and leftovers use it."""

    loaded: list[str] = field(default_factory=list)
    deletes: int = 0

    def load_docker_image(self, image: str) -> None:
        self.loaded.append(image)

    def delete(self) -> None:
        self.deletes += 1


@dataclass
class FakeCluster:
    name: str
    kubeconfig: Path
    kind: FakeHandle = field(default_factory=FakeHandle)
    deleted: bool = False


class FakeKind:
    def __init__(self, binary: Path | None = None, clusters: list[str] | None = None) -> None:
        self.listed = clusters or []
        self.handles: dict[str, FakeHandle] = {}
        self.exported: list[Path] = []
        self.export_error: HarnessError | None = None

    def clusters(self) -> list[str]:
        return self.listed

    def handle(self, name: str, kubeconfig: Path, image: str | None) -> FakeHandle:
        return self.handles.setdefault(name, FakeHandle())

    def export_logs(self, name: str, directory: Path) -> None:
        if self.export_error:
            raise self.export_error
        self.exported.append(directory)


@dataclass
class World:
    """What the provisioner asked of kind, Docker and the node-image chooser, in order."""

    events: list[tuple[str, str]] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    configs: list[dict[str, Any]] = field(default_factory=list)
    config_files: list[Path] = field(default_factory=list)
    fail_create: BaseException | None = None
    fail_test_image: BaseException | None = None

    def create_cluster(
        self,
        kind: FakeKind,
        name: str,
        image: str,
        config: dict[str, Any],
        config_file: Path,
        kubeconfig: Path,
        client: object,
        *,
        offline_image: bool,
        owns_network: bool,
    ) -> FakeCluster:
        self.events.append(("create", name))
        self.owned_network = owns_network
        assert (image, offline_image) == (NODE_IMAGE.reference, NODE_IMAGE.offline)
        self.configs.append(config)
        self.config_files.append(config_file)
        if self.fail_create:
            raise self.fail_create
        kubeconfig.write_text("admin credentials")
        return FakeCluster(name, kubeconfig)

    def reuse_cluster(self, kind: FakeKind, name: str, kubeconfig: Path, client: object) -> FakeCluster:
        self.events.append(("reuse", name))
        kubeconfig.write_text("admin credentials")
        return FakeCluster(name, kubeconfig)

    def delete_cluster(self, cluster: FakeCluster) -> None:
        if cluster.deleted:  # as the real one: idempotent
            return
        self.events.append(("delete", cluster.name))
        cluster.deleted = True

    def build_test_image(self, client: object) -> str:
        self.events.append(("build test image", ""))
        if self.fail_test_image:
            raise self.fail_test_image
        return TEST_IMAGE

    def resolve_node_image(self, setting: str, version: KubeVersion, client: object) -> NodeImage:
        self.resolved.append(setting)
        return NODE_IMAGE


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("STATIC_POD_HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, cache: Path, tmp_path: Path) -> World:
    world = World()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the run's kubeconfig directories
    for name in (
        "create_cluster",
        "reuse_cluster",
        "delete_cluster",
        "build_test_image",
        "resolve_node_image",
    ):
        monkeypatch.setattr(prov_module, name, getattr(world, name))
    monkeypatch.setattr(
        prov_module,
        "kindconfig",
        SimpleNamespace(load=lambda path: {"from": path.stem}, render=lambda config, **kw: {**config, **kw}),
    )
    monkeypatch.setattr(prov_module.HostFacts, "read", lambda: CGROUP_V1_HOST)
    monkeypatch.setattr(prov_module, "Kind", FakeKind)
    monkeypatch.setattr(leftovers, "warn", lambda kind, client: None)
    return world


def make(
    tmp_path: Path, failed: bool = False, on_reuse: Callable[[Any], None] = lambda c: None, **request: Any
) -> Provisioner:
    settings = {"k8s_version": VERSION, "node_image": "auto", "kind_bin": Path("kind"), "name": "run"}
    settings |= {"artifacts_dir": tmp_path / "artifacts", **request}
    return Provisioner(
        ProvisionRequest(**settings),
        client=object(),
        failed=lambda: failed,
        on_reuse=on_reuse,
    )


def records() -> list[str]:
    return sorted(p.stem for p in leftovers.records_dir().glob("*.json"))


# --- Provisioner ---


def test_clusters_are_named_per_config_and_share_one_node_image(world: World, tmp_path: Path) -> None:
    provisioner = make(tmp_path)
    single = provisioner.ready_cluster(SINGLE)
    multi = provisioner.ready_cluster(MULTI)
    assert (single.name, multi.name) == ("run-single-node", "run-multi-node")
    assert world.config_files[0] == tmp_path / "artifacts/clusters/run-single-node/kind-config.yaml"
    assert world.resolved == ["auto"]
    assert world.configs[0] == {
        "from": "single-node",
        "version": VERSION,
        "host": CGROUP_V1_HOST,
        "offline_image": True,
    }
    assert world.events.count(("build test image", "")) == 1
    assert single.kind.loaded == multi.kind.loaded == [TEST_IMAGE]
    assert provisioner.test_image == TEST_IMAGE


def test_a_made_cluster_is_readied_by_on_create_a_reused_one_by_on_reuse(
    world: World, tmp_path: Path
) -> None:
    made, reused = [], []

    def provisioner(**request: Any) -> Provisioner:
        built = make(tmp_path, **request)
        built.on_create, built.on_reuse = made.append, reused.append
        return built

    created = provisioner().ready_cluster(SINGLE)
    found = provisioner(reuse="theirs").ready_cluster(SINGLE)
    assert (made, reused) == ([created], [found])


@pytest.mark.parametrize("version, said", [("1.34.11", 0), ("1.35.8", 1)])
def test_a_cgroup_v1_host_is_said_once_where_the_kubelet_needs_telling(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str, said: int
) -> None:
    provisioner = make(tmp_path, k8s_version=KubeVersion.parse(version))
    provisioner.ready_cluster(SINGLE)
    provisioner.ready_cluster(MULTI)
    line = "[provision] this host runs cgroup v1: the kubelets get failCgroupV1: false (KEP-5573)"
    assert capsys.readouterr().err.count(line) == said


@pytest.mark.parametrize("owns", [True, False])
def test_a_parallel_workers_clusters_leave_kinds_network_to_its_controller(
    world: World, tmp_path: Path, owns: bool
) -> None:
    make(tmp_path, owns_kind_network=owns).ready_cluster(SINGLE)
    assert world.owned_network is owns


def test_the_same_config_twice_is_the_same_cluster(world: World, tmp_path: Path) -> None:
    provisioner = make(tmp_path)
    assert provisioner.ready_cluster(SINGLE) is provisioner.ready_cluster(SINGLE)
    assert [e for e in world.events if e[0] == "create"] == [("create", "run-single-node")]


def test_another_config_deletes_the_current_cluster_first(world: World, tmp_path: Path) -> None:
    provisioner = make(tmp_path)
    single = provisioner.ready_cluster(SINGLE)
    assert records() == ["run-single-node"]
    provisioner.ready_cluster(MULTI)
    assert single.deleted
    assert [e for e in world.events if e[0] in ("create", "delete")] == [
        ("create", "run-single-node"),
        ("delete", "run-single-node"),
        ("create", "run-multi-node"),
    ]
    assert records() == ["run-multi-node"]
    provisioner.release()
    assert world.events[-1] == ("delete", "run-multi-node")
    assert records() == []


def test_kept_clusters_are_not_deleted_and_never_collide(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioner = make(tmp_path, keep=True)
    single = provisioner.ready_cluster(SINGLE)
    multi = provisioner.ready_cluster(MULTI)
    provisioner.release()
    assert not single.deleted and not multi.deleted
    assert single.name != multi.name
    assert not [e for e in world.events if e[0] == "delete"]
    assert records() == []  # kept on purpose: not a leftover
    assert "keeping run-multi-node (its kubeconfig: kind export kubeconfig --name run-multi-node)" in (
        capsys.readouterr().err
    )


def test_a_reused_cluster_is_named_as_given_and_never_deleted(world: World, tmp_path: Path) -> None:
    repair = lambda c: world.events.append(("repair", c.name))  # noqa: E731
    provisioner = make(tmp_path, reuse="mine", on_reuse=repair)
    assert provisioner.cluster_name(MULTI) == "mine"
    cluster = provisioner.ready_cluster(SINGLE)
    assert cluster.name == "mine"
    assert cluster.kind.loaded == [TEST_IMAGE]
    provisioner.release()
    provisioner.abort()
    assert not cluster.deleted
    assert world.events == [("build test image", ""), ("reuse", "mine"), ("repair", "mine")]
    assert world.resolved == []


@pytest.mark.parametrize(
    "error, message",
    [
        (HarnessError("kind create cluster failed"), "single-node: kind create cluster failed"),
        (RuntimeError("boom"), "single-node: RuntimeError: boom"),
        (
            WaitTimeout("node Ready", 180, "absent"),
            "single-node: WaitTimeout: expected node Ready within 180s; last seen: absent",
        ),
    ],
)
def test_a_config_that_failed_fails_again_at_once(
    world: World, tmp_path: Path, error: Exception, message: str
) -> None:
    world.fail_create = error
    provisioner = make(tmp_path)
    for _ in range(2):
        with pytest.raises(HarnessError) as raised:
            provisioner.ready_cluster(SINGLE)
        assert str(raised.value) == message
    assert world.events == [("build test image", ""), ("create", "run-single-node")]
    assert records() == []
    world.fail_create = None
    assert provisioner.ready_cluster(MULTI).name == "run-multi-node"


def test_a_test_image_that_cannot_be_built_costs_no_cluster(world: World, tmp_path: Path) -> None:
    world.fail_test_image = HarnessError("go build failed")
    with pytest.raises(HarnessError, match="single-node: go build failed"):
        make(tmp_path).ready_cluster(SINGLE)
    assert world.events == [("build test image", "")]


def test_a_cluster_made_before_a_later_step_failed_is_not_left_behind(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def load_fails(self: FakeHandle, image: str) -> None:
        raise HarnessError("kind load failed")

    monkeypatch.setattr(FakeHandle, "load_docker_image", load_fails)
    provisioner = make(tmp_path)
    with pytest.raises(HarnessError, match="single-node: kind load failed"):
        provisioner.ready_cluster(SINGLE)
    assert ("delete", "run-single-node") in world.events
    assert records() == []


@pytest.mark.parametrize("failed", [False, True])
def test_release_exports_kind_logs_only_when_the_run_failed(
    world: World, tmp_path: Path, failed: bool
) -> None:
    provisioner = make(tmp_path, failed=failed)
    provisioner.ready_cluster(SINGLE)
    provisioner.release()
    expected = [tmp_path / "artifacts/kind-logs/run-single-node"] if failed else []
    assert provisioner.kind.exported == expected
    assert world.events[-1] == ("delete", "run-single-node")


def test_a_failed_log_export_does_not_stop_the_deletion(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioner = make(tmp_path, failed=True)
    provisioner.kind.export_error = HarnessError("no nodes")
    provisioner.ready_cluster(SINGLE)
    provisioner.release()
    assert world.events[-1] == ("delete", "run-single-node")
    assert "could not export kind's logs of run-single-node: no nodes" in capsys.readouterr().err


def test_abort_deletes_every_created_cluster_and_release_then_does_nothing(
    world: World, tmp_path: Path
) -> None:
    provisioner = make(tmp_path, failed=True, keep=True)
    single = provisioner.ready_cluster(SINGLE)
    multi = provisioner.ready_cluster(MULTI)  # single-node is kept, its logs exported
    exported = list(provisioner.kind.exported)
    provisioner.abort()
    provisioner.release()
    provisioner.abort()
    assert single.deleted and multi.deleted
    deletions = [e for e in world.events if e[0] == "delete"]
    assert deletions == [("delete", "run-single-node"), ("delete", "run-multi-node")]
    assert provisioner.kind.exported == exported  # nothing left to export from
    assert records() == []


def test_release_after_abort_does_not_claim_to_keep_a_deleted_cluster(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    provisioner = make(tmp_path, keep=True)
    provisioner.ready_cluster(SINGLE)
    provisioner.abort()
    provisioner.release()
    assert "keeping run-single-node" not in capsys.readouterr().err


# --- leftovers ---


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def write_record(name: str, pid: int) -> None:
    leftovers.records_dir().mkdir(parents=True, exist_ok=True)
    (leftovers.records_dir() / f"{name}.json").write_text(json.dumps({"cluster": name, "pid": pid}))


def test_record_and_forget(cache: Path) -> None:
    leftovers.record("c1")
    assert json.loads((cache / "clusters/c1.json").read_text()) == {"cluster": "c1", "pid": os.getpid()}
    leftovers.forget("c1")
    leftovers.forget("c1")  # forgetting twice is fine
    assert records() == []


def test_left_clusters_are_those_of_dead_runs_that_kind_still_has(cache: Path) -> None:
    assert leftovers.left_clusters(FakeKind()) == []  # no records directory yet
    pid = dead_pid()
    write_record("killed", pid)
    write_record("gone", pid)
    leftovers.record("running")
    leftovers.record("being-made")  # a live run records its cluster before kind lists it
    kind = FakeKind(clusters=["killed", "running", "unrelated"])
    assert leftovers.left_clusters(kind) == ["killed"]
    assert records() == ["being-made", "killed", "running"]  # kind no longer has "gone"


def test_remove_deletes_left_clusters_through_kind_and_forgets_them(cache: Path) -> None:
    write_record("killed", dead_pid())
    leftovers.record("running")
    kind = FakeKind(clusters=["killed", "running"])
    left, building = build_container("left", dead_pid()), build_container("building", os.getpid())
    client = SimpleNamespace(containers=SimpleNamespace(list=lambda all, filters: [left, building]))
    assert leftovers.remove(kind, client) == ["cluster killed", "build container left"]
    assert kind.handles["killed"].deletes == 1
    assert "running" not in kind.handles
    assert (left.removed, building.removed) == (True, False)
    assert records() == ["running"]


def build_container(name: str, pid: int) -> SimpleNamespace:
    container = SimpleNamespace(name=name, removed=False, labels={LABEL_BUILDER_PID: str(pid)})
    container.remove = lambda force: setattr(container, "removed", force)
    return container


# --- node images ---


class FakeImages:
    def __init__(self, present: dict[str, dict[str, str]]) -> None:
        self.present = present

    def get(self, name: str) -> SimpleNamespace:
        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return SimpleNamespace(labels=self.present[name])


def client_with(present: dict[str, dict[str, str]] | None = None) -> Any:
    """A Docker client whose images are `present` (reference -> labels)."""
    return SimpleNamespace(images=FakeImages(present or {}))


def test_an_absent_reference_without_a_registry_is_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choose, "registry_reachable", lambda: False)
    with pytest.raises(HarnessError) as raised:
        nodeimages.resolve_node_image("my/node:v1", VERSION, client_with())
    assert "node image my/node:v1 is not on this machine and no registry answers" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_absent_reference_with_a_registry_is_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choose, "registry_reachable", lambda: True)
    assert nodeimages.resolve_node_image("my/node:v1", VERSION, client_with()) == NodeImage(
        "my/node:v1", offline=False
    )


@pytest.mark.parametrize("labels, offline", [({LABEL_VERSION: "v1.34.4"}, True), ({}, False)])
def test_a_present_reference_is_offline_when_the_builder_labelled_it(
    monkeypatch: pytest.MonkeyPatch, labels: dict[str, str], offline: bool
) -> None:
    monkeypatch.setattr(choose, "registry_reachable", lambda: pytest.fail("no registry probe"))
    client = client_with({"my:node": labels})
    assert nodeimages.resolve_node_image("my:node", VERSION, client) == NodeImage("my:node", offline)


def test_a_choice_goes_to_the_chooser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nodeimages, "choose_node_image", lambda setting, version, client: "built:v1.34.4")
    client = client_with({"built:v1.34.4": {LABEL_VERSION: "v1.34.4"}})
    assert nodeimages.resolve_node_image("offline", VERSION, client) == NodeImage("built:v1.34.4", True)


# --- admin kubeconfigs, the user's test image ---


@pytest.mark.parametrize("reuse", [None, "mine"])
def test_admin_kubeconfigs_stay_out_of_the_artifacts_and_go_when_the_run_ends(
    world: World, tmp_path: Path, reuse: str | None
) -> None:
    provisioner = make(tmp_path, reuse=reuse)
    kubeconfig = provisioner.ready_cluster(SINGLE).kubeconfig
    assert kubeconfig.read_text() == "admin credentials"
    assert not kubeconfig.is_relative_to(tmp_path / "artifacts")
    assert kubeconfig.parent.stat().st_mode & 0o777 == 0o700
    provisioner.close()
    assert not kubeconfig.parent.exists()


def test_an_interrupt_removes_the_kubeconfigs_too(world: World, tmp_path: Path) -> None:
    provisioner = make(tmp_path)
    kubeconfig = provisioner.ready_cluster(SINGLE).kubeconfig
    provisioner.abort()
    assert not kubeconfig.parent.exists()


def test_a_test_image_of_ones_own_is_loaded_instead_of_building_the_suites(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prov_module, "image_exists", lambda client, ref: ref == "me/agent:dev")
    provisioner = make(tmp_path, test_image="me/agent:dev")
    assert provisioner.ready_cluster(SINGLE).kind.loaded == ["me/agent:dev"]
    assert provisioner.test_image == "me/agent:dev"
    assert ("build test image", "") not in world.events


def test_a_test_image_that_is_not_in_docker_is_one_line_and_costs_no_cluster(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prov_module, "image_exists", lambda client, ref: False)
    with pytest.raises(HarnessError) as raised:
        make(tmp_path, test_image="me/agent:dev").ready_cluster(SINGLE)
    assert str(raised.value) == (
        "single-node: --sph-test-image me/agent:dev is not in the local Docker: build or pull it first "
        "(kind loads images into the nodes from there)"
    )
    assert not [e for e in world.events if e[0] == "create"]
