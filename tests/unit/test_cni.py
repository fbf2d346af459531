import json
from pathlib import Path

import pytest

from harness.cluster import cni


class FakeFile:
    def __init__(self, node, path):
        self.node, self.path = node, path

    def read_text(self):
        return self.node.files[self.path]


class FakeNode:
    def __init__(self, files=None):
        self.commands, self.files = [], files or {}

    def run(self, *argv):
        self.commands.append(argv)

    def file(self, path):
        return FakeFile(self, path)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("STATIC_POD_HARNESS_CACHE", str(tmp_path))
    return tmp_path


def test_each_node_of_the_config_gets_its_own_range_mounted(cache: Path):
    nodes = [
        {"role": "control-plane"},
        {"role": "worker", "extraMounts": [{"hostPath": "/a", "containerPath": "/b"}]},
    ]
    mounted = cni.mount_configs(nodes, "10.244.0.0/16")
    assert nodes[1]["extraMounts"] == [{"hostPath": "/a", "containerPath": "/b"}]  # input untouched
    assert mounted[1]["extraMounts"][0] == {"hostPath": "/a", "containerPath": "/b"}
    mounts = [node["extraMounts"][-1] for node in mounted]
    assert [m["containerPath"] for m in mounts] == [cni.CONFIG_PATH] * 2
    assert all(m["readOnly"] for m in mounts)
    configs = [json.loads(Path(m["hostPath"]).read_text()) for m in mounts]
    assert [c["plugins"][0]["ipam"]["ranges"] for c in configs] == [
        [[{"subnet": "10.244.0.0/24"}]],
        [[{"subnet": "10.244.1.0/24"}]],
    ]
    assert [p["type"] for p in configs[0]["plugins"]] == ["ptp", "portmap"]
    assert Path(mounts[0]["hostPath"]).parent == cache / "cni"


def test_a_config_file_is_rewritten_only_when_it_differs(cache: Path):
    path = cni.config_file("10.244.3.0/24")
    before = path.stat().st_ino
    assert cni.config_file("10.244.3.0/24").stat().st_ino == before  # a mounted file stays as it is
    path.write_text("stale")
    assert json.loads(cni.config_file("10.244.3.0/24").read_text())["name"] == "static-pod-harness"
    assert sorted(p.name for p in path.parent.iterdir()) == ["10.244.3.0_24.conflist"]


def test_a_node_reports_the_range_of_the_config_it_runs_with():
    node = FakeNode({cni.CONFIG_PATH: cni.conflist("10.244.7.0/24")})
    assert cni.pod_cidr(node) == "10.244.7.0/24"


def test_each_node_gets_routes_to_the_others_pods():
    nodes = {"a": FakeNode(), "b": FakeNode()}
    cni.route(
        nodes,
        [
            cni.NodeNetwork("a", "172.18.0.2", "10.244.0.0/24"),
            cni.NodeNetwork("b", "172.18.0.3", "10.244.1.0/24"),
        ],
    )
    assert nodes["a"].commands == [("ip", "route", "replace", "10.244.1.0/24", "via", "172.18.0.3")]
    assert nodes["b"].commands == [("ip", "route", "replace", "10.244.0.0/24", "via", "172.18.0.2")]
