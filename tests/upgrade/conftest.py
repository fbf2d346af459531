"""Options and inputs of the kubelet upgrade check (`make upgrade-check FROM=... TO=...`).

SCOPE=node (the default): the cluster is made from TO's node image (--sph-k8s-version is TO); FROM's
kubelet comes from the
offline build's cache (built when missing), as do the kubelets of the hops between FROM and TO;
TO's is the node's own or --sph-kubelet-binary. Bad input, the user's manifests included, stops
the run with one line each before any cluster is made (harness.upgrade.plan, .manifests).
SCOPE=cluster: the cluster is made from FROM's node image (--sph-k8s-version is FROM, --sph-upgrade-to
TO); each hop's kubeadm, kubelet and images come from that version's build and node image.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.nodeimage.build import kubernetes_binaries
from harness.nodeimage.choose import NODE_IMAGE_CHOICES, choose_node_image
from harness.plugin.options import (
    K8S_VERSION,
    NODE_IMAGE,
    REUSE_CLUSTER,
    Option,
    add_old_names,
    add_options,
    option_value,
    warn_old_names,
)
from harness.upgrade.check import Hop
from harness.upgrade.manifests import UserManifest, validate
from harness.upgrade.plan import EXPECTATIONS, SCOPES, UpgradePlan, make_plan
from harness.upgrade.stage import UpgradeInputs, upgrade_inputs
from harness.versions import KubeVersion

PLAN = pytest.StashKey[UpgradePlan]()
USER_MANIFESTS = pytest.StashKey[tuple[list[UserManifest], list[str]]]()


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
UPGRADE_MANIFESTS = Option(
    "upgrade-manifests",
    "a directory of your own static-pod manifests (*.yaml, *.yml, *.json), placed on the node under test",
    metavar="DIR",
)
UPGRADE_BUILTIN = Option(
    "upgrade-builtin",
    "yes | no: the eight built-in pod shapes too (no needs --sph-upgrade-manifests)",
    default="yes",
    metavar="yes|no",
)
UPGRADE_SCOPE = Option(
    "upgrade-scope",
    f"{' | '.join(SCOPES)}; node: a worker's kubelet under a control plane at TO; cluster: the cluster "
    "starts at FROM and is upgraded the kubeadm way, control-plane node first",
    default="node",
    metavar="node|cluster",
)
UPGRADE_OPTIONS = (
    UPGRADE_FROM,
    UPGRADE_TO,
    KUBELET_BINARY,
    EXPECT,
    UPGRADE_MANIFESTS,
    UPGRADE_BUILTIN,
    UPGRADE_SCOPE,
)


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
            scope=option_value(config, UPGRADE_SCOPE),
            manifests=option_value(config, UPGRADE_MANIFESTS),
            builtin=option_value(config, UPGRADE_BUILTIN),
        )
        plan = config.stash[PLAN]
        if plan.manifests is not None:
            # Before any cluster: each image local (to be loaded) or in the node image.
            node_image = str(option_value(config, NODE_IMAGE))
            chosen = None if node_image in NODE_IMAGE_CHOICES else node_image
            config.stash[USER_MANIFESTS] = validate(plan.manifests, chosen)
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
def upgrade_hops(upgrade_plan: UpgradePlan) -> list[Hop]:
    """The newest patch of each minor between FROM and TO (each kubelet from the offline build's cache,
    built there first when missing), then TO: the user's kubelet build, or None: the node's own."""
    between = [
        Hop(f"v{v}", (kubernetes_binaries(v) / "kubelet").read_bytes()) for v in upgrade_plan.hops[:-1]
    ]
    built = upgrade_plan.kubelet_binary
    return [*between, Hop(upgrade_plan.to_reported, built.path.read_bytes() if built else None)]


@pytest.fixture(scope="session")
def cluster_hops(pytestconfig: pytest.Config, upgrade_plan: UpgradePlan) -> list[Callable[[], UpgradeInputs]]:
    """SCOPE=cluster: for each hop, what makes its kubeadm, kubelet and images (from that version's node
    image, chosen as NODE_IMAGE says, built when missing) when the hop starts."""
    setting = str(option_value(pytestconfig, NODE_IMAGE))
    choice = setting if setting in NODE_IMAGE_CHOICES else "auto"  # a reference names FROM's image

    def inputs(version: KubeVersion) -> UpgradeInputs:
        return upgrade_inputs(version, choose_node_image(choice, version, docker_client()))

    return [functools.partial(inputs, version) for version in upgrade_plan.hops]


@pytest.fixture(scope="session")
def user_manifests(pytestconfig: pytest.Config) -> tuple[list[UserManifest], list[str]]:
    """The user's manifests (--sph-upgrade-manifests) and the local images to load for them."""
    return pytestconfig.stash.get(USER_MANIFESTS, ([], []))
