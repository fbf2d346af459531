"""Options and inputs of the kubelet upgrade check (`make upgrade-check FROM=... TO=...`).

The cluster is made from TO's node image (--k8s-version is TO); FROM's kubelet comes from the
offline build's cache (built when missing), TO's is the node's own or --kubelet-binary. Bad
input stops the run with one line before any cluster is made (harness.upgrade.plan).
"""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.nodeimage.build import kubernetes_binaries
from harness.upgrade.plan import EXPECTATIONS, UpgradePlan, make_plan

PLAN = pytest.StashKey[UpgradePlan]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubelet upgrade check")
    group.addoption(
        "--upgrade-from", metavar="VERSION", help="the kubelet the node starts with, e.g. 1.30.14"
    )
    group.addoption(
        "--upgrade-to", metavar="VERSION", help="the control plane and new kubelet (default --k8s-version)"
    )
    group.addoption(
        "--kubelet-binary", metavar="PATH", help="a kubelet build to upgrade to instead of TO's own"
    )
    group.addoption(
        "--expect",
        choices=EXPECTATIONS,
        help="no-disruption: a disrupted static pod fails the check (default for patch upgrades); "
        "report: disruptions are reported findings (default for minor upgrades)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("reuse_cluster"):
        raise pytest.UsageError(
            "the upgrade check swaps a node's kubelet: it makes a cluster of its own (no --reuse-cluster)"
        )
    try:
        config.stash[PLAN] = make_plan(
            config.getoption("upgrade_from"),
            config.getoption("upgrade_to") or config.getoption("k8s_version"),
            config.getoption("kubelet_binary"),
            config.getoption("expect"),
        )
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture(scope="session")
def upgrade_plan(pytestconfig: pytest.Config) -> UpgradePlan:
    return pytestconfig.stash[PLAN]


@pytest.fixture(scope="session")
def from_kubelet(upgrade_plan: UpgradePlan) -> bytes:
    """FROM's kubelet binary, from the offline build's cache (built there first when missing)."""
    return (kubernetes_binaries(upgrade_plan.from_version) / "kubelet").read_bytes()


@pytest.fixture(scope="session")
def to_kubelet(upgrade_plan: UpgradePlan) -> bytes | None:
    """The user's kubelet build, or None: the node's own kubelet (TO's) is put back."""
    return upgrade_plan.kubelet_binary.path.read_bytes() if upgrade_plan.kubelet_binary else None
