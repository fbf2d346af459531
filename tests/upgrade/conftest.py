"""Options and inputs of the kubelet upgrade check (`make upgrade-check FROM=... TO=...`).

The cluster is made from TO's node image (--sph-k8s-version is TO); FROM's kubelet comes from the
offline build's cache (built when missing), TO's is the node's own or --kubelet-binary. Bad
input stops the run with one line before any cluster is made (harness.upgrade.plan).
"""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.nodeimage.build import kubernetes_binaries
from harness.plugin.options import (
    K8S_VERSION,
    REUSE_CLUSTER,
    Option,
    add_old_names,
    add_options,
    option_value,
    warn_old_names,
)
from harness.upgrade.plan import EXPECTATIONS, UpgradePlan, make_plan

PLAN = pytest.StashKey[UpgradePlan]()


UPGRADE_FROM = Option(
    "upgrade-from", "the kubelet the node starts with, e.g. 1.30.14", old="--upgrade-from", metavar="VERSION"
)
UPGRADE_TO = Option(
    "upgrade-to",
    "the control plane and new kubelet (default --sph-k8s-version)",
    old="--upgrade-to",
    metavar="VERSION",
)
KUBELET_BINARY = Option(
    "kubelet-binary",
    "a kubelet build to upgrade to instead of TO's own",
    old="--kubelet-binary",
    metavar="PATH",
)
EXPECT = Option(
    "expect",
    f"{' | '.join(EXPECTATIONS)}; no-disruption: a disrupted static pod fails the check (default for patch "
    "upgrades); report: disruptions are reported findings (default for minor upgrades)",
    old="--expect",
)
UPGRADE_OPTIONS = (UPGRADE_FROM, UPGRADE_TO, KUBELET_BINARY, EXPECT)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, "kubelet upgrade check", UPGRADE_OPTIONS)
    add_old_names(parser, UPGRADE_OPTIONS)


def pytest_configure(config: pytest.Config) -> None:
    warn_old_names(config, UPGRADE_OPTIONS)
    if option_value(config, REUSE_CLUSTER):
        raise pytest.UsageError(
            "the upgrade check swaps a node's kubelet: it makes a cluster of its own (no --sph-reuse-cluster)"
        )
    try:
        config.stash[PLAN] = make_plan(
            option_value(config, UPGRADE_FROM),
            option_value(config, UPGRADE_TO) or option_value(config, K8S_VERSION),
            option_value(config, KUBELET_BINARY),
            option_value(config, EXPECT),
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
