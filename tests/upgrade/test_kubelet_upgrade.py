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
from harness.upgrade.cluster_check import ClusterUpgrade
from harness.upgrade.diff import check_result
from harness.upgrade.report import write_reports

pytestmark = pytest.mark.kind_config("upgrade")


def test_static_pods_through_an_in_place_kubelet_upgrade(
    request,
    upgrade_plan,
    user_manifests,
    static_pods,
    kind_cluster_ready,
    static_pod_settings,
):
    """#129385, #116080, KEP-4781; kubeadm "Upgrading Linux nodes" (upgrade node, then the kubelet)."""
    manifests, images = user_manifests
    for image in images:  # the user's, from the local Docker, as the harness loads its test image
        kind_cluster_ready.kind.load_docker_image(image)
    pods, builtin = tuple(m.manifest for m in manifests), upgrade_plan.builtin
    from_version = f"v{upgrade_plan.from_version}"

    if upgrade_plan.scope == "cluster":  # kubeadm's way: control-plane node first, then the worker
        upgrade = ClusterUpgrade(kind_cluster_ready, static_pods, from_version, pods, builtin)
        records = upgrade.run(request.getfixturevalue("cluster_hops"))
    else:  # a worker's kubelet under a control plane at TO
        worker = kind_cluster_ready.workers[0]
        check = UpgradeCheck(kind_cluster_ready, static_pods, worker, from_version, pods, builtin)
        records = check.run(request.getfixturevalue("from_kubelet"), request.getfixturevalue("upgrade_hops"))

    result = check_result(records, upgrade_plan.expect)
    paths = write_reports(records, static_pod_settings.artifacts_dir, upgrade_plan.expect)
    request.node.user_properties.append(("upgrade_verdict", result.line))
    print(f"\n{result.line}; report: {paths['html']}")
    assert not result.failures, (
        f"EXPECT={upgrade_plan.expect}: " + " | ".join(result.failures) + f"; see {paths['md']}"
    )
