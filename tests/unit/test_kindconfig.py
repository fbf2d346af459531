from pathlib import Path

import pytest

from harness.cluster import cni, kindconfig
from harness.cluster.hostfacts import HostFacts
from harness.errors import HarnessError
from harness.paths import KIND_CONFIGS
from harness.versions import KubeVersion

V134 = KubeVersion.parse("1.34.4")
V135 = KubeVersion.parse("1.35.4")
CAPABLE = HostFacts(can_lower_oom_score=True, cgroup_v1=False)
SHORT_CAPS_V1 = HostFacts(can_lower_oom_score=False, cgroup_v1=True)


@pytest.mark.parametrize("name", ["single-node", "multi-node"])
def test_shipped_configs_load(name):
    config = kindconfig.load(KIND_CONFIGS / f"{name}.yaml")
    assert config["kind"] == "Cluster"


def test_nothing_is_added_for_a_capable_host_and_the_official_image():
    config = kindconfig.load(KIND_CONFIGS / "single-node.yaml")
    assert kindconfig.render(config, version=V134, host=CAPABLE, offline_image=False) == config


def test_host_patches_where_needed():
    config = kindconfig.load(KIND_CONFIGS / "single-node.yaml")
    rendered = kindconfig.render(config, version=V135, host=SHORT_CAPS_V1, offline_image=False)
    assert "restrict_oom_score_adj = true" in rendered["containerdConfigPatches"][0]
    assert "failCgroupV1: false" in rendered["kubeadmConfigPatches"][0]
    assert "failCgroupV1" not in str(
        kindconfig.render(config, version=V134, host=SHORT_CAPS_V1, offline_image=False)
    )


def test_offline_image_gets_no_default_cni_no_kube_proxy_no_coredns_and_keeps_user_patches(
    tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("STATIC_POD_HARNESS_CACHE", str(tmp_path))
    config = kindconfig.load(KIND_CONFIGS / "multi-node.yaml")
    config["kubeadmConfigPatches"] = ["kind: ClusterConfiguration\n"]
    rendered = kindconfig.render(config, version=V134, host=CAPABLE, offline_image=True)
    assert rendered["networking"] == {"disableDefaultCNI": True, "kubeProxyMode": "none"}
    assert rendered["kubeadmConfigPatches"][0] == "kind: ClusterConfiguration\n"
    assert "- preflight" in rendered["kubeadmConfigPatches"][1]
    assert 'allocate-node-cidrs: "false"' in rendered["kubeadmConfigPatches"][2]
    assert [n["role"] for n in rendered["nodes"]] == ["control-plane", "worker", "worker"]
    assert rendered["nodes"][2]["kubeadmConfigPatches"] == config["nodes"][2]["kubeadmConfigPatches"]
    assert [n["extraMounts"][0]["containerPath"] for n in rendered["nodes"]] == [cni.CONFIG_PATH] * 3
    assert config["kubeadmConfigPatches"] == ["kind: ClusterConfiguration\n"]  # input untouched
    assert "extraMounts" not in config["nodes"][0]


def test_offline_pod_ranges_come_from_the_configs_pod_subnet(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("STATIC_POD_HARNESS_CACHE", str(tmp_path))
    config = {
        **kindconfig.load(KIND_CONFIGS / "single-node.yaml"),
        "networking": {"podSubnet": "10.96.128.0/17"},
    }
    rendered = kindconfig.render(config, version=V134, host=CAPABLE, offline_image=True)
    assert rendered["nodes"][0]["extraMounts"][0]["hostPath"].endswith("10.96.128.0_24.conflist")


@pytest.mark.parametrize(
    "networking",
    [
        {"podSubnet": "fd00:10:244::/56"},
        {"ipFamily": "dual"},
        {"podSubnet": "10.244.0.0/25"},
        {"podSubnet": "x"},
    ],
)
def test_an_offline_pod_network_that_cannot_be_made_is_one_clear_error(
    tmp_path: Path, monkeypatch, networking
):
    monkeypatch.setenv("STATIC_POD_HARNESS_CACHE", str(tmp_path))
    config = {**kindconfig.load(KIND_CONFIGS / "single-node.yaml"), "networking": networking}
    with pytest.raises(
        HarnessError, match="offline node image's pod network takes ipFamily ipv4 and an IPv4"
    ):
        kindconfig.render(config, version=V134, host=CAPABLE, offline_image=True)


def test_an_offline_pod_subnet_needs_a_24_for_each_node(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("STATIC_POD_HARNESS_CACHE", str(tmp_path))
    config = {
        **kindconfig.load(KIND_CONFIGS / "multi-node.yaml"),
        "networking": {"podSubnet": "10.244.0.0/23"},
    }
    with pytest.raises(HarnessError, match="with a /24 for each of the 3 nodes"):
        kindconfig.render(config, version=V134, host=CAPABLE, offline_image=True)


HEADER = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("nodes: [", "does not parse at line 1"),
        ("kind: Pod\napiVersion: v1\n", "is not a kind config"),
        ("- a\n", "is not a kind config"),
        (HEADER + "nodes:\n  - role: worker\n", "has no control-plane node: add `- role: control-plane`"),
        (HEADER + "nodes: [worker]\n", "nodes must be a list of nodes"),
    ],
)
def test_bad_configs_fail_with_one_clear_message(tmp_path: Path, text, problem):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=r"bad\.yaml") as raised:
        kindconfig.load(path)
    assert problem in str(raised.value) and "\n" not in str(raised.value)


def test_a_config_without_nodes_is_kinds_single_control_plane(tmp_path: Path):
    path = tmp_path / "plain.yaml"
    path.write_text(HEADER)
    assert kindconfig.node_count(kindconfig.load(path)) == 1


def test_a_missing_config_names_the_shipped_ones(tmp_path: Path):
    with pytest.raises(HarnessError, match=r"does not exist: give a path, or one of .*multi-node"):
        kindconfig.load(tmp_path / "nope.yaml")


def test_host_facts_read_from_proc(tmp_path: Path):
    status = tmp_path / "status"
    status.write_text("Name: x\nCapBnd:\t000001fffeffffff\n")
    facts = HostFacts.read(status, tmp_path)
    assert facts == HostFacts(can_lower_oom_score=False, cgroup_v1=True)
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    status.write_text("CapBnd:\t000001ffffffffff\n")
    assert HostFacts.read(status, tmp_path) == HostFacts(can_lower_oom_score=True, cgroup_v1=False)
