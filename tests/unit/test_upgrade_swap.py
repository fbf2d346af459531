"""The kubelet swap on a node, and the plan checked before anything is built: no cluster needed."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.node import Node
from harness.upgrade import swap
from harness.upgrade.plan import make_plan
from harness.versions import KubeVersion


class FakeTransport:
    """A node whose commands are logged, and whose `kubelet --version` says `version`."""

    name = "kind-worker"

    def __init__(self, version: str = "v1.31.14") -> None:
        self.version = version
        self.commands: list[list[str]] = []
        self.files: dict[str, tuple[bytes, int]] = {}

    def exec(self, argv: list[str]) -> tuple[int, bytes, bytes]:
        command = argv[3:] if argv[0] == "timeout" else argv
        self.commands.append(command)
        if command[-1] == "--version":
            return 0, f"Kubernetes {self.version}\n".encode(), b""
        return 0, b"", b""

    def put(self, directory: str, name: str, data: bytes, mode: int) -> None:
        self.files[f"{directory}/{name}"] = (data, mode)

    def gone(self) -> bool:
        return False


def test_the_nodes_own_kubelet_is_stashed_under_its_version() -> None:
    transport = FakeTransport("v1.31.14")

    stashed = swap.stash_kubelet(Node(transport))

    assert stashed == "/usr/local/lib/static-pod-harness/kubelet-v1.31.14"
    assert transport.commands[-1] == ["cp", "-p", "--", "/usr/bin/kubelet", stashed]


def test_a_new_kubelet_is_renamed_into_place_while_the_old_one_runs() -> None:
    transport = FakeTransport()

    swap.put_kubelet(Node(transport), b"\x7fELF new kubelet")

    assert transport.files == {"/usr/bin/.kubelet.new": (b"\x7fELF new kubelet", 0o755)}
    assert transport.commands == [["mv", "-f", "--", "/usr/bin/.kubelet.new", "/usr/bin/kubelet"]]
    assert not any("systemctl" in c for c in transport.commands)  # the restart is the caller's step


def test_a_binary_that_is_not_a_kubelet_is_named() -> None:
    transport = FakeTransport("something else")

    with pytest.raises(HarnessError, match="kind-worker: `kubelet --version` said"):
        swap.kubelet_version(Node(transport))


@pytest.mark.parametrize(
    ("cgroup_v1", "command"),
    [
        (False, ["kubeadm", "upgrade", "node"]),
        (True, ["kubeadm", "upgrade", "node", "--ignore-preflight-errors=SystemVerification"]),
    ],
)
def test_kubeadm_upgrade_node_skips_only_the_cgroup_v1_refusal(cgroup_v1: bool, command: list[str]) -> None:
    transport = FakeTransport()

    swap.kubeadm_upgrade_node(Node(transport), cgroup_v1=cgroup_v1)

    assert transport.commands == [command]


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [("1.34.3", "1.34.4", "no-disruption"), ("1.30.14", "1.31.14", "report"), ("1.34.4", "1.35.1", "report")],
)
def test_patch_upgrades_gate_and_minor_ones_report(old: str, new: str, expect: str) -> None:
    assert make_plan(old, new).expect == expect


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (None, "1.31.14", "FROM is required"),
        ("1.31.14", "1.31.14", "is not older than"),
        ("1.32.1", "1.31.14", "is not older than"),
        ("1.30.1", "1.34.4", "at most 3 minors older"),
        ("1.2.3", "1.31.14", "is not supported"),
        ("latest", "1.31.14", "is not a Kubernetes release"),
    ],
)
def test_bad_input_is_one_line(old: str | None, new: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as raised:
        make_plan(old, new)
    assert "\n" not in str(raised.value)


def test_an_unknown_expectation_is_refused() -> None:
    with pytest.raises(HarnessError, match="EXPECT=maybe is not one of no-disruption, report"):
        make_plan("1.34.3", "1.34.4", expect="maybe")


def test_the_new_kubeadm_is_renamed_into_place_too() -> None:
    transport = FakeTransport()

    swap.put_kubeadm(Node(transport), b"\x7fELF new kubeadm")

    assert transport.files == {"/usr/bin/.kubeadm.new": (b"\x7fELF new kubeadm", 0o755)}
    assert transport.commands == [["mv", "-f", "--", "/usr/bin/.kubeadm.new", "/usr/bin/kubeadm"]]


def test_images_are_imported_into_the_nodes_containerd_and_the_archive_removed() -> None:
    transport = FakeTransport()

    swap.import_images(Node(transport), b"archive")

    assert transport.files == {swap.IMAGE_ARCHIVE: (b"archive", 0o644)}
    assert not swap.IMAGE_ARCHIVE.startswith("/tmp/")  # a kind node's tmpfs: put_archive writes beneath it
    assert transport.commands == [
        ["mkdir", "-p", "--", swap.STASH_DIR],
        ["ctr", "--namespace=k8s.io", "images", "import", "--digests", swap.IMAGE_ARCHIVE],
        ["rm", "-f", "--", swap.IMAGE_ARCHIVE],
    ]


@pytest.mark.parametrize(
    ("version", "extra"),
    [
        ("1.37.2", []),
        ("1.38.0-beta.0", ["--allow-experimental-upgrades", "--allow-release-candidate-upgrades"]),
    ],
)
def test_kubeadm_upgrade_apply_names_the_version(version: str, extra: list[str]) -> None:
    transport = FakeTransport()

    swap.kubeadm_upgrade_apply(Node(transport), KubeVersion.parse(version))

    (command,) = transport.commands
    assert command == [
        "kubeadm",
        "upgrade",
        "apply",
        "--yes",
        "--ignore-preflight-errors=all",
        *extra,
        f"v{version}",
    ]
