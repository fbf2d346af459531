"""The plugin's cluster fixtures: settings, the run's provisioner, ready clusters, the test image,
static pods.

Nothing is provisioned until a test asks for a cluster (or a fixture built on one); then the
run's Provisioner is made, and Ctrl-C/SIGTERM from that moment delete its clusters first.
Provisioning shows its progress (node image, `kind create`, image loading) even though pytest
captures output during fixture set-up.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import NoReturn

import pytest

from harness.cluster import kindconfig
from harness.cluster.cluster import Cluster
from harness.dockerclient import docker_client
from harness.errors import HarnessError, run_each
from harness.interrupts import handle_interrupts, on_interrupt
from harness.nodeimage import standins
from harness.plugin import settling
from harness.plugin.options import Settings, settings_from_options
from harness.plugin.results import RunResults
from harness.plugin.skew import kubelets_swapped
from harness.provision.provisioner import Provisioner, ProvisionRequest
from harness.staticpods.control_plane import repair_parked_api_server
from harness.staticpods.pods import StaticPods

# The fixture every cluster fixture of the plugin depends on: a test whose fixture closure holds
# it uses the plugin (and only such tests are checked, grouped and reordered).
SETTINGS_FIXTURE = "static_pod_settings"

SETTINGS = pytest.StashKey[Settings]()
FAILED = pytest.StashKey[bool]()
PODS = pytest.StashKey[StaticPods]()
RESULTS = pytest.StashKey[RunResults]()
# What each cluster runs, asked once per cluster: (API server, kubelets, node image described).
_VERSIONS = pytest.StashKey[dict[str, tuple[str, list[str], str]]]()


def uses_clusters(item: pytest.Item) -> bool:
    return SETTINGS_FIXTURE in getattr(item, "fixturenames", ())


def run_settings(config: pytest.Config) -> Settings:
    """The run's settings, made (and checked) the first time they are needed."""
    if SETTINGS not in config.stash:
        config.stash[SETTINGS] = settings_from_options(config)
    return config.stash[SETTINGS]


def kind_config_of(item: pytest.Item, settings: Settings) -> Path:
    """The kind config a test needs: its kind_config marker, else --sph-kind-config."""
    marker = item.get_closest_marker("kind_config")
    return kindconfig.resolve(marker.args[0]) if marker else settings.kind_config


def progress_shown(config: pytest.Config) -> AbstractContextManager[None]:
    """Output goes to the terminal, not to the test's captured output, in the body."""
    capture = config.pluginmanager.getplugin("capturemanager")
    return capture.global_and_fixture_disabled() if capture else nullcontext()


@pytest.fixture(scope="session")
def static_pod_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings (options checked at collection; see harness.plugin.options)."""
    try:
        return run_settings(pytestconfig)
    except HarnessError as exc:  # asked for through request.getfixturevalue, past collection's check
        failure = str(exc)
    pytest.fail(failure, pytrace=False)


@pytest.fixture(scope="session")
def static_pod_provisioner(
    pytestconfig: pytest.Config, static_pod_settings: Settings
) -> Iterator[Provisioner]:
    """The run's clusters, one kind config at a time; released (deleted unless kept) at the end."""
    settings = static_pod_settings
    request = ProvisionRequest(
        k8s_version=settings.k8s_version,
        node_image=settings.node_image,
        kind_bin=settings.kind_bin,
        name=settings.cluster_name,
        artifacts_dir=settings.artifacts_dir,
        keep=settings.keep_cluster,
        reuse=settings.reuse_cluster,
        test_image=settings.test_image,
        owns_kind_network=not hasattr(pytestconfig, "workerinput"),  # a worker's controller owns it
    )
    try:
        client = docker_client()
    except HarnessError as exc:
        failure = exc
    else:
        failure = None
    if failure is not None:  # outside the except block: one line, not a chain of two exceptions
        _no_cluster(settings, failure)
    made = Provisioner(
        request,
        client,
        failed=lambda: pytestconfig.stash[FAILED],
        on_reuse=repair_parked_api_server,
        on_create=kubelets_swapped(settings.kubelet_version) if settings.kubelet_version else lambda c: None,
    )
    handle_interrupts()
    on_interrupt(made.abort)
    yield made
    with progress_shown(pytestconfig):
        try:
            settling.flush(pytestconfig)  # the last tests' clean-up, while their clusters are there
        except Exception:
            pytestconfig.stash[FAILED] = True  # so that close() exports the clusters' logs
            raise
        finally:
            made.close()


def _no_cluster(settings: Settings, exc: HarnessError) -> NoReturn:
    if settings.skip_without_cluster:
        pytest.skip(f"no cluster: {exc}")
    pytest.fail(f"no cluster: {exc}", pytrace=False)


def _ready(request: pytest.FixtureRequest, provisioner: Provisioner, kind_config: Path) -> Cluster:
    try:
        with progress_shown(request.config):
            return provisioner.ready_cluster(kind_config)
    except HarnessError as exc:
        failure = exc
    # Outside the except block: the test shows one line, not a chain of two exceptions.
    request.config.stash[RESULTS].cluster_failures.append(str(failure))
    _no_cluster(request.config.stash[SETTINGS], failure)


@pytest.fixture(scope="session")
def kind_cluster_session(
    request: pytest.FixtureRequest, static_pod_provisioner: Provisioner, static_pod_settings: Settings
) -> Cluster:
    """The cluster of --sph-kind-config, ready, for module- and session-scoped fixtures of your own.

    A process holds one cluster at a time: when a test that needs another kind config (kind_config
    marker) runs, this one is released; do not keep using it from that test's fixtures."""
    return _ready(request, static_pod_provisioner, static_pod_settings.kind_config)


@pytest.fixture
def kind_cluster_ready(
    request: pytest.FixtureRequest,
    static_pod_provisioner: Provisioner,
    static_pod_settings: Settings,
) -> Cluster:
    """A ready kind cluster made from the kind config this test needs (or the reused one). What it
    runs goes onto the test's properties (RunResults also puts them on junit.xml's testsuite)."""
    ready = _ready(request, static_pod_provisioner, kind_config_of(request.node, static_pod_settings))
    versions = request.config.stash.setdefault(_VERSIONS, {})
    if ready.name not in versions:
        versions[ready.name] = (
            ready.server_version(),
            sorted(set(ready.kubelet_versions().values())),
            standins.describe(ready.image, ready.node_image_labels()) if ready.image else "",
        )
    server, kubelets, node_image = versions[ready.name]
    request.node.user_properties += [
        ("kubernetes", server),
        ("kubelets", " ".join(kubelets)),
        ("node_image", node_image),
        ("cluster", ready.name),  # for the run's summary: where to run a failed test again
        ("kind_config", kind_config_of(request.node, static_pod_settings).stem),
    ]
    return ready


@pytest.fixture
def record_observation(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """record(text): what this test saw where Kubernetes versions legitimately differ. It goes to
    junit.xml as an "observed" property; the conformance report compares it across versions."""
    return lambda text: request.node.user_properties.append(("observed", text))


@pytest.fixture
def record_measurement(request: pytest.FixtureRequest) -> Callable[[str, object], None]:
    """record(name, value): a figure this test measured (seconds, transitions seen), as a junit.xml
    property of the test. Unlike pytest's record_property it is no warning under xunit2."""
    return lambda name, value: request.node.user_properties.append((name, str(value)))


@pytest.fixture
def static_pod_test_image(kind_cluster_ready: Cluster, static_pod_provisioner: Provisioner) -> str:
    """The image loaded into every node: --sph-test-image, else the suite's testapp
    (fixtures/images/testapp, built here). Manifest fixtures name it TESTAPP_IMAGE."""
    return static_pod_provisioner.test_image


@pytest.fixture
def static_pods(
    request: pytest.FixtureRequest, kind_cluster_ready: Cluster, static_pod_test_image: str
) -> Iterator[StaticPods]:
    """Place static pods for one test; all are removed afterwards, and waited gone: at once after a
    disruptive test, else while the next test runs (harness.plugin.settling)."""
    pods = StaticPods(kind_cluster_ready, static_pod_test_image)
    request.node.stash[PODS] = pods
    yield pods
    finish = functools.partial(settling.finish, request, kind_cluster_ready, pods.gone_checks())
    run_each([pods.remove_files, finish], "static pod clean-up")  # the waits even when a removal failed
