"""The plugin's fixtures: a ready cluster for the test's kind config, the test image, static pods.

Nothing is provisioned until a test asks for `cluster` (or a fixture built on it); then the
run's Provisioner is made, and Ctrl-C/SIGTERM from that moment delete its clusters first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.cluster import kindconfig
from harness.cluster.cluster import Cluster
from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.interrupts import handle_interrupts, on_interrupt
from harness.plugin.options import Settings
from harness.plugin.results import RunResults
from harness.provision.provisioner import Provisioner, ProvisionRequest
from harness.staticpods.pods import StaticPods
from harness.versions import KIND_VERSION

SETTINGS = pytest.StashKey[Settings]()
FAILED = pytest.StashKey[bool]()
PODS = pytest.StashKey[StaticPods]()
RESULTS = pytest.StashKey[RunResults]()
# Versions seen on each cluster, asked once per cluster: (API server, kubelets).
_VERSIONS = pytest.StashKey[dict[str, tuple[str, list[str]]]]()


def kind_config_of(item: pytest.Item, settings: Settings) -> Path:
    """The kind config a test needs: its kind_config marker, else --kind-config."""
    marker = item.get_closest_marker("kind_config")
    return kindconfig.resolve(marker.args[0]) if marker else settings.kind_config


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def provisioner(pytestconfig: pytest.Config, settings: Settings) -> Iterator[Provisioner]:
    """The run's clusters, one kind config at a time; released (deleted unless kept) at the end."""
    request = ProvisionRequest(
        k8s_version=settings.k8s_version,
        node_image=settings.node_image,
        kind_bin=settings.kind_bin,
        name=settings.cluster_name,
        artifacts_dir=settings.artifacts_dir,
        keep=settings.keep_cluster,
        reuse=settings.reuse_cluster,
    )
    try:
        client = docker_client()
    except HarnessError as exc:
        _no_cluster(settings, exc)
    made = Provisioner(request, client, failed=lambda: pytestconfig.stash[FAILED])
    handle_interrupts()
    on_interrupt(made.abort)
    yield made
    made.release()


def _no_cluster(settings: Settings, exc: HarnessError) -> None:
    if settings.skip_without_cluster:
        pytest.skip(f"no cluster: {exc}")
    pytest.fail(f"no cluster: {exc}", pytrace=False)


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest,
    provisioner: Provisioner,
    settings: Settings,
    record_testsuite_property: Callable[[str, object], None],
) -> Cluster:
    """A ready kind cluster made from the kind config this test needs (or the reused one)."""
    try:
        ready = provisioner.ready_cluster(kind_config_of(request.node, settings))
    except HarnessError as exc:
        request.config.stash[RESULTS].cluster_failures.append(str(exc))
        _no_cluster(settings, exc)
    versions = request.config.stash.setdefault(_VERSIONS, {})
    if ready.name not in versions:
        versions[ready.name] = (ready.server_version(), sorted(set(ready.kubelet_versions().values())))
        for name, value in (
            ("kubernetes", versions[ready.name][0]),
            ("kind", KIND_VERSION),
            ("node_image", ready.image),
        ):
            record_testsuite_property(name, value)  # on junit.xml's testsuite, for CI dashboards
    server, kubelets = versions[ready.name]
    request.node.user_properties += [
        ("kubernetes", server),
        ("kubelets", " ".join(kubelets)),
        ("node_image", ready.image or ""),
    ]
    return ready


@pytest.fixture
def record_observation(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """record(text): what this test saw where Kubernetes versions legitimately differ. It goes to
    junit.xml as an "observed" property; the conformance report compares it across versions."""
    return lambda text: request.node.user_properties.append(("observed", text))


@pytest.fixture
def test_image(cluster: Cluster, provisioner: Provisioner) -> str:
    """The suite's own small image (fixtures/images/testapp), loaded into every node."""
    return provisioner.test_image


@pytest.fixture
def static_pods(request: pytest.FixtureRequest, cluster: Cluster, test_image: str) -> Iterator[StaticPods]:
    """Place static pods for one test; all are removed, and waited gone, afterwards."""
    pods = StaticPods(cluster, test_image)
    request.node.stash[PODS] = pods
    yield pods
    pods.cleanup()
