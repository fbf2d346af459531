"""The pytest plugin: options, markers, hooks and fixtures, as thin wiring over the layers.

Registered through the pytest11 entry point. pytest-kind provides the cluster options it
already has (--cluster-name, --keep-cluster, --kind-bin, --kind-image); the rest are added
here. Fixtures live in harness.plugin.fixtures; claims and the run's versions are recorded
as junit user_properties of each test, so that they reach junit.xml and survive xdist.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import kindconfig
from harness.errors import HarnessError
from harness.nodeimage.choose import NODE_IMAGE_CHOICES
from harness.paths import DEFAULT_KIND_BIN
from harness.plugin import diagnostics
from harness.plugin.fixtures import (
    FAILED,
    PODS,
    RESULTS,
    SETTINGS,
    cluster,
    kind_config_of,
    provisioner,
    record_observation,
    settings,
    static_pods,
    test_image,
)
from harness.plugin.options import DEFAULT_CLUSTER_NAME, Settings
from harness.plugin.results import RunResults
from harness.reports.claims import claim_properties
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion
from harness.waiting import set_timeout_scale

__all__ = ["cluster", "provisioner", "record_observation", "settings", "static_pods", "test_image"]

PYTEST_KIND_DEFAULT_NAME = "pytest-kind"
MARKERS = (
    "disruptive: restarts the kubelet, the container runtime or the API server; runs after the rest",
    "slow: takes more than a minute",
    "claim(id, verdict, evidence): what this test proves about a seed-article claim (S1..S21)",
    "kind_config(name): runs on a cluster made from this kind config (a name in kind-configs/)",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("static-pod-harness")
    group.addoption(
        "--k8s-version", default=DEFAULT_K8S_VERSION, help="Kubernetes release (default %(default)s)"
    )
    group.addoption(
        "--kind-config",
        default=kindconfig.DEFAULT_KIND_CONFIG.stem,
        help="kind config: a path or a name in kind-configs/ (default single-node)",
    )
    group.addoption(
        "--node-image",
        default="auto",
        help=f"{' | '.join(NODE_IMAGE_CHOICES)} | an image reference (default auto)",
    )
    group.addoption(
        "--artifacts-dir",
        default=os.environ.get("ARTIFACTS", "artifacts"),
        help="reports and diagnostics (default $ARTIFACTS, as Prow and kubetest2 set it, else artifacts/)",
    )
    group.addoption(
        "--reuse-cluster",
        default=None,
        metavar="NAME",
        help="run against this existing kind cluster; it is never deleted",
    )
    group.addoption("--timeout-scale", type=float, default=1.0, help="multiply every wait's timeout")
    group.addoption(
        "--skip-without-cluster",
        action="store_true",
        help="skip e2e tests when no cluster can be made (ignored in CI, where they fail)",
    )


def _settings(config: pytest.Config) -> Settings:
    kind_bin = config.getoption("kind_bin") or str(DEFAULT_KIND_BIN)
    if "/" not in kind_bin:  # a command name: look it up as the shell would
        kind_bin = shutil.which(kind_bin) or kind_bin
    return Settings(
        k8s_version=KubeVersion.parse(config.getoption("k8s_version")),
        node_image=config.getoption("kind_image") or config.getoption("node_image"),
        kind_config=kindconfig.resolve(config.getoption("kind_config")),
        cluster_name=_cluster_name(config),
        kind_bin=Path(kind_bin).resolve(),
        artifacts_dir=Path(config.getoption("artifacts_dir")).resolve(),
        keep_cluster=config.getoption("keep_cluster"),
        reuse_cluster=config.getoption("reuse_cluster"),
        skip_without_cluster=config.getoption("skip_without_cluster") and os.environ.get("CI") != "true",
    )


def _cluster_name(config: pytest.Config) -> str:
    """--cluster-name (pytest-kind's option; its own default is replaced by ours), plus the xdist
    worker's id: each worker gets clusters of its own."""
    name = config.getoption("cluster_name")
    if name == PYTEST_KIND_DEFAULT_NAME:
        name = DEFAULT_CLUSTER_NAME
    return "-".join(filter(None, [name, os.environ.get("PYTEST_XDIST_WORKER")]))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[SETTINGS] = _settings(config)
        kindconfig.load(config.stash[SETTINGS].kind_config)  # a config that does not parse stops here
        set_timeout_scale(config.getoption("timeout_scale"))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    config.stash[FAILED] = False
    config.stash[RESULTS] = RunResults(
        config.stash[SETTINGS].artifacts_dir, str(config.stash[SETTINGS].k8s_version)
    )
    if not hasattr(config, "workerinput"):  # an xdist worker's reports reach the controller
        config.pluginmanager.register(config.stash[RESULTS], "static-pod-harness-results")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Claims onto each test's user_properties; group tests by the cluster they need, disruptive
    ones last within a group.

    With --reuse-cluster every test runs on that one cluster, so tests that need a kind config of
    their own are deselected, listed, and their claims reported inconclusive: never silently.
    """
    settings = config.stash[SETTINGS]
    for item in items:
        item.user_properties += claim_properties(item.iter_markers("claim"), item.nodeid)
    if settings.reuse_cluster:
        dropped = [i for i in items if kind_config_of(i, settings) != settings.kind_config]
        for item in dropped:
            config.stash[RESULTS].deselect(
                item,
                f"needs kind config {kind_config_of(item, settings).stem}; --reuse-cluster runs "
                f"only --kind-config {settings.kind_config.stem}",
            )
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if i not in dropped]
    items.sort(
        key=lambda i: (
            kind_config_of(i, settings) != settings.kind_config,
            str(kind_config_of(i, settings)),
            i.get_closest_marker("disruptive") is not None,
        )
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.failed:
        item.config.stash[FAILED] = True
        pods = item.stash.get(PODS, None)
        if pods is not None and report.when in ("call", "setup") and not pods.cluster.deleted:
            bundle = diagnostics.collect(item.config.stash[SETTINGS].artifacts_dir, item.nodeid, pods)
            report.sections.append(("diagnostics", bundle.summary()))
    return report
