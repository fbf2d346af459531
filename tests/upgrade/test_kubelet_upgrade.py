"""A node's kubelet upgraded in place under running static pods: what happened to them, and
whether the new kubelet still handles static pods.

Sources: kubernetes/kubernetes #129385 and #129659 (1.30 -> 1.31 restarts every container:
"Container ... definition changed, will be restarted", container hash changed in PR #124220);
#116080, #67537, #87461 (a newly defaulted field changes the pod's UID and config.hash, so the
mirror is recreated); KEP-4781 (Ready reset on every kubelet restart before 1.35);
#105543/#116880/#109596 (restarts and deletions stall after a kubelet restart); the
version-skew policy (in-place minor upgrades with running pods are unsupported: a disruption
there is a finding; on a patch upgrade it is a regression). kubeadm "Upgrading Linux nodes".
"""

import pytest

from harness.upgrade.check import UpgradeCheck
from harness.upgrade.diff import diff_upgrade
from harness.upgrade.report import write_reports

pytestmark = pytest.mark.kind_config("upgrade")


def test_static_pods_through_an_in_place_kubelet_upgrade(
    request, upgrade_plan, from_kubelet, to_kubelet, static_pods, kind_cluster_ready, static_pod_settings
):
    """#129385, #116080, KEP-4781; kubeadm "Upgrading Linux nodes" (upgrade node, then the kubelet)."""
    node, versions = (
        kind_cluster_ready.workers[0],
        (f"v{upgrade_plan.from_version}", upgrade_plan.to_reported),
    )
    check = UpgradeCheck(kind_cluster_ready, static_pods, node, *versions)

    record = check.run(from_kubelet, to_kubelet)

    result = diff_upgrade(record)
    paths = write_reports(record, static_pod_settings.artifacts_dir)
    request.node.user_properties.append(("upgrade_verdict", result.verdict.line))
    print(f"\n{result.verdict.line}; report: {paths['html']}")
    failed = [f"{b.behaviour}: {b.detail}" for b in record.behaviours if not b.passed]
    assert not failed, f"post-upgrade behaviours failed on the new kubelet: {failed}"
    if upgrade_plan.expect == "no-disruption":
        assert not result.verdict.disrupted, (
            f"{result.verdict.line} (EXPECT=no-disruption); see {paths['md']}"
        )
