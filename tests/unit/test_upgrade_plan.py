"""The upgrade check's plan: hops one minor at a time, scope, the user's manifests, the built-in shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.upgrade import plan as plan_module
from harness.upgrade.binary import KubeletBinary
from harness.upgrade.plan import main, make_plan, plan_hops
from harness.versions import KubeVersion, newest_patch

POD = "kind: Pod\nmetadata: {name: agent}\nspec: {containers: [{name: a, image: agent:dev}]}\n"


def v(text: str) -> KubeVersion:
    return KubeVersion.parse(text)


def test_two_minors_apart_go_through_the_newest_patch_of_the_minor_between() -> None:
    hops = plan_hops(v("1.35.3"), v("1.37.2"))
    assert hops == (newest_patch(36), v("1.37.2"))
    assert str(hops[0]) == "1.36.4"


def test_three_minors_apart_make_three_hops() -> None:
    assert [str(h) for h in plan_hops(v("1.34.1"), v("1.37.0"))] == ["1.35.8", "1.36.4", "1.37.0"]


@pytest.mark.parametrize(("old", "new"), [("1.36.1", "1.37.2"), ("1.37.0", "1.37.2")])
def test_one_minor_or_a_patch_is_one_hop(old: str, new: str) -> None:
    plan = make_plan(old, new)
    assert plan.hops == (v(new),)
    assert plan.needed_versions == (v(old),)


def test_the_plan_needs_the_kubelets_of_from_and_of_each_hop_but_the_last() -> None:
    plan = make_plan("1.35.8", "1.37.2")
    assert [str(x) for x in plan.needed_versions] == ["1.35.8", "1.36.4"]
    assert str(plan) == (
        "minor upgrade v1.35.8 -> v1.36.4 -> v1.37.2, scope node, the built-in shapes, expect report"
    )


def test_scope_defaults_to_node_and_cluster_is_chosen_by_name() -> None:
    assert make_plan("1.36.4", "1.37.2").scope == "node"
    assert make_plan("1.36.4", "1.37.2", scope="cluster").scope == "cluster"
    with pytest.raises(HarnessError, match="SCOPE=everything is not one of node, cluster"):
        make_plan("1.36.4", "1.37.2", scope="everything")


def test_manifests_alongside_or_instead_of_the_built_in_shapes(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text(POD)
    both = make_plan("1.37.0", "1.37.2", manifests=str(tmp_path))
    only = make_plan("1.37.0", "1.37.2", manifests=str(tmp_path), builtin="no")
    assert (both.builtin, both.manifests, only.builtin) == (True, tmp_path, False)
    assert f"the built-in shapes and the manifests of {tmp_path}" in str(both)
    with pytest.raises(HarnessError, match="BUILTIN=no needs MANIFESTS=DIR"):
        make_plan("1.37.0", "1.37.2", builtin="0")
    with pytest.raises(HarnessError, match="BUILTIN=maybe is not one of yes"):
        make_plan("1.37.0", "1.37.2", builtin="maybe")


def test_bad_manifests_stop_the_plan_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: ConfigMap\nmetadata: {name: a}\n")
    (tmp_path / "b.yaml").write_text(POD)
    with pytest.raises(HarnessError) as caught:
        make_plan("1.37.0", "1.37.2", manifests=str(tmp_path))
    assert str(caught.value).splitlines() == [
        f"MANIFESTS={tmp_path}: 1 bad file(s):",
        f"  {tmp_path}/a.yaml: not a Pod: kind is 'ConfigMap', not 'Pod'",
    ]


def test_a_kubelet_build_is_for_scope_node_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        plan_module, "validate_kubelet_binary", lambda path, arch: KubeletBinary(path, v("1.37.2"), "v1.37.2")
    )
    with pytest.raises(HarnessError, match="KUBELET_BINARY works with SCOPE=node only"):
        make_plan("1.36.4", "1.37.2", str(tmp_path / "kubelet"), scope="cluster")


def test_the_makefile_reads_the_needed_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--from", "1.34.1", "--to", "1.37.2", "--versions"]) == 0
    assert capsys.readouterr().out == "1.34.1 1.35.8 1.36.4\n"
