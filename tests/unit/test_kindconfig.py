from pathlib import Path

import pytest

from harness.cluster import kindconfig
from harness.cluster.hostfacts import HostFacts
from harness.errors import HarnessError
from harness.plugin.options import KIND_CONFIGS
from harness.versions import KubeVersion

V134 = KubeVersion.parse("1.34.4")
V135 = KubeVersion.parse("1.35.4")
CAPABLE = HostFacts(can_lower_oom_score=True, cgroup_v1=False)
SHORT_CAPS_V1 = HostFacts(can_lower_oom_score=False, cgroup_v1=True)


@pytest.mark.parametrize("name", ["single-node", "multi-node", "custom-static-pod-path"])
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


def test_offline_image_gets_no_default_cni_no_kube_proxy_no_coredns_and_keeps_user_patches():
    config = kindconfig.load(KIND_CONFIGS / "custom-static-pod-path.yaml")
    config["kubeadmConfigPatches"] = ["kind: ClusterConfiguration\n"]
    rendered = kindconfig.render(config, version=V134, host=CAPABLE, offline_image=True)
    assert rendered["networking"] == {"disableDefaultCNI": True, "kubeProxyMode": "none"}
    assert rendered["kubeadmConfigPatches"][0] == "kind: ClusterConfiguration\n"
    assert "- preflight" in rendered["kubeadmConfigPatches"][1]
    assert rendered["nodes"] == config["nodes"]
    assert config["kubeadmConfigPatches"] == ["kind: ClusterConfiguration\n"]  # input untouched


@pytest.mark.parametrize("text", ["nodes: [", "kind: Pod\napiVersion: v1\n", "- a\n"])
def test_bad_configs_fail_with_one_clear_message(tmp_path: Path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=r"bad\.yaml"):
        kindconfig.load(path)


def test_host_facts_read_from_proc(tmp_path: Path):
    status = tmp_path / "status"
    status.write_text("Name: x\nCapBnd:\t000001fffeffffff\n")
    facts = HostFacts.read(status, tmp_path)
    assert facts == HostFacts(can_lower_oom_score=False, cgroup_v1=True)
    (tmp_path / "cgroup.controllers").write_text("cpu\n")
    status.write_text("CapBnd:\t000001ffffffffff\n")
    assert HostFacts.read(status, tmp_path) == HostFacts(can_lower_oom_score=True, cgroup_v1=False)
