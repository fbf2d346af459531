"""The pytest plugin: options, fixtures, markers and hooks, as thin wiring over the layers.

Registered through the pytest11 entry point, so `pytest tests/e2e` anywhere in this
project gets it. pytest-kind provides the cluster options it already has
(--cluster-name, --keep-cluster, --kind-bin, --kind-image); the rest are added here.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest

from harness import diagnostics
from harness.claims import ClaimsReport
from harness.cluster import kindconfig
from harness.cluster.cluster import Cluster
from harness.cluster.lifecycle import provisioned_cluster
from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.interrupts import sigterm_as_keyboard_interrupt
from harness.settings import DEFAULT_KIND_BIN, DEFAULT_KIND_CONFIG, NODE_IMAGE_CHOICES, Settings
from harness.static_pods import StaticPods
from harness.testimage import build_test_image
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion

SETTINGS = pytest.StashKey[Settings]()
FAILED = pytest.StashKey[bool]()
CLAIMS = pytest.StashKey[ClaimsReport]()
PODS = pytest.StashKey[StaticPods]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("static-pod-harness")
    group.addoption(
        "--k8s-version", default=DEFAULT_K8S_VERSION, help="Kubernetes release (default %(default)s)"
    )
    group.addoption(
        "--kind-config",
        default=DEFAULT_KIND_CONFIG.stem,
        help="kind config: a path or a name in kind-configs/ (default single-node)",
    )
    group.addoption(
        "--node-image",
        default="auto",
        help=f"{' | '.join(NODE_IMAGE_CHOICES)} | an image reference (default auto)",
    )
    group.addoption(
        "--artifacts-dir", default="artifacts", help="reports and diagnostics (default artifacts/)"
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
        kind_config=Settings.resolve_kind_config(config.getoption("kind_config")),
        # pytest-xdist workers each get a cluster of their own.
        cluster_name="-".join(
            filter(None, [config.getoption("cluster_name"), os.environ.get("PYTEST_XDIST_WORKER")])
        ),
        kind_bin=Path(kind_bin).resolve(),
        artifacts_dir=Path(config.getoption("artifacts_dir")).resolve(),
        keep_cluster=config.getoption("keep_cluster"),
        reuse_cluster=config.getoption("reuse_cluster"),
        timeout_scale=config.getoption("timeout_scale"),
        skip_without_cluster=config.getoption("skip_without_cluster") and os.environ.get("CI") != "true",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[SETTINGS] = _settings(config)
        kindconfig.load(config.stash[SETTINGS].kind_config)  # a config that does not parse stops here
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[FAILED] = False
    config.stash[CLAIMS] = ClaimsReport()
    sigterm_as_keyboard_interrupt()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests by the cluster they need; within a group, disruptive tests run last.

    With --reuse-cluster every test runs on that one cluster, so tests that need a kind
    config of their own are deselected (and said so), never skipped silently.
    """
    settings = config.stash[SETTINGS]
    default = settings.kind_config
    if settings.reuse_cluster:
        keep = [i for i in items if kind_config_of(i, settings) == default]
        dropped = [i for i in items if kind_config_of(i, settings) != default]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
    items.sort(
        key=lambda i: (
            kind_config_of(i, settings) != default,
            str(kind_config_of(i, settings)),
            i.get_closest_marker("disruptive") is not None,
        )
    )


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    return pytestconfig.stash[SETTINGS]


class ClusterPool:
    """One cluster at a time, made from the kind config the current test needs.

    Tests run grouped by kind config (see pytest_collection_modifyitems), so each config's
    cluster is created once, and deleted before the next one is made: two-core machines
    do not hold several clusters well.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings = config.stash[SETTINGS]
        self._stack = ExitStack()
        self._current: tuple[Path, Cluster] | None = None
        self._broken: dict[Path, str] = {}
        self._test_image: str | None = None

    def get(self, kind_config: Path) -> Cluster:
        if self._current and self._current[0] == kind_config:
            return self._current[1]
        if kind_config in self._broken:
            raise HarnessError(self._broken[kind_config])
        self.close()
        settings = replace(self.settings, kind_config=kind_config)
        try:
            client = docker_client()
            cluster = self._stack.enter_context(
                provisioned_cluster(settings, client, failed=lambda: self.config.stash[FAILED])
            )
            self._test_image = self._test_image or build_test_image(client)
            cluster.kind.load_docker_image(self._test_image)
        except HarnessError as exc:
            self.close()
            self._broken[kind_config] = str(exc)
            raise
        self._current = (kind_config, cluster)
        return cluster

    @property
    def test_image(self) -> str:
        assert self._test_image, "the test image is loaded with the first cluster"
        return self._test_image

    def close(self) -> None:
        self._current = None
        self._stack.close()


def kind_config_of(item: pytest.Item, settings: Settings) -> Path:
    """The kind config a test needs: its kind_config marker, else --kind-config."""
    marker = item.get_closest_marker("kind_config")
    return Settings.resolve_kind_config(marker.args[0]) if marker else settings.kind_config


@pytest.fixture(scope="session")
def cluster_pool(pytestconfig: pytest.Config) -> Iterator[ClusterPool]:
    pool = ClusterPool(pytestconfig)
    yield pool
    pool.close()


@pytest.fixture
def cluster(request: pytest.FixtureRequest, cluster_pool: ClusterPool, settings: Settings) -> Cluster:
    """A ready kind cluster made from the kind config this test needs (or the reused one)."""
    try:
        return cluster_pool.get(kind_config_of(request.node, settings))
    except HarnessError as exc:
        if settings.skip_without_cluster:
            pytest.skip(f"no cluster: {exc}")
        pytest.fail(f"no cluster: {exc}", pytrace=False)


@pytest.fixture
def test_image(cluster: Cluster, cluster_pool: ClusterPool) -> str:
    """The suite's own small image (fixtures/images/testapp), loaded into every node."""
    return cluster_pool.test_image


@pytest.fixture
def static_pods(
    request: pytest.FixtureRequest, cluster: Cluster, settings: Settings, test_image: str
) -> Iterator[StaticPods]:
    """Place static pods for one test; all are removed, and waited gone, afterwards."""
    pods = StaticPods(cluster, settings, test_image)
    request.node.stash[PODS] = pods
    yield pods
    pods.cleanup()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.failed:
        item.config.stash[FAILED] = True
        pods = item.stash.get(PODS, None)
        if pods is not None and report.when in ("call", "setup"):
            bundle = diagnostics.collect(item.config.stash[SETTINGS].artifacts_dir, item.nodeid, pods)
            report.sections.append(("diagnostics", bundle.summary()))
    if report.when == "call" or (report.when == "setup" and not report.passed):
        item.config.stash[CLAIMS].record(item, report)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    settings = session.config.stash.get(SETTINGS, None)
    if settings is not None and session.config.stash[CLAIMS].has_claims:
        session.config.stash[CLAIMS].write(settings.artifacts_dir, settings.k8s_version)
