"""The pytest plugin: options, markers, hooks and fixtures, as thin wiring over the layers.

Registered through the pytest11 entry point, so it loads in every pytest run of an environment
it is installed in; it stays inert there. Options and markers are registered, and claim
markers checked; nothing else happens (no option checked, no signal handler, no test moved)
unless a collected test uses one of its cluster fixtures, and then only those tests are
grouped and reordered.

Options are --sph-<name>, ini settings sph_<name> (harness.plugin.options); pytest-kind's own
(--cluster-name, --keep-cluster, --kind-bin, --kind-image) are honoured too. Fixtures live
in harness.plugin.fixtures and harness.plugin.workloads; claims and the run's versions are
recorded as junit user_properties of each test, so that they reach junit.xml and survive xdist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import kindconfig
from harness.errors import HarnessError
from harness.paths import CACHE_ENV, cache_dir
from harness.plugin import diagnostics, kind_cluster, parallel, settling, summary
from harness.plugin.fixtures import (
    FAILED,
    PODS,
    RESULTS,
    kind_cluster_ready,
    kind_cluster_session,
    kind_config_of,
    record_measurement,
    record_observation,
    run_settings,
    static_pod_provisioner,
    static_pod_settings,
    static_pod_test_image,
    static_pods,
    uses_clusters,
)
from harness.plugin.options import (
    K8S_VERSION,
    KEEP_CLUSTER,
    KIND_CONFIG,
    OPTIONS,
    REUSE_CLUSTER,
    Settings,
    add_old_names,
    add_options,
    artifacts_dir,
    option_value,
    warn_old_names,
)
from harness.plugin.results import RunResults
from harness.plugin.workloads import kubelet_reconfigured, node_dirs, test_daemonsets, test_namespaces
from harness.reports.claims import claim_properties
from harness.waiting import DELIBERATE_WAIT, deliberate_seconds

# The fixtures pytest finds on this module, the plugin.
__all__ = [
    "kind_cluster_ready",
    "kind_cluster_session",
    "kubelet_reconfigured",
    "node_dirs",
    "record_measurement",
    "record_observation",
    "static_pod_provisioner",
    "static_pod_settings",
    "static_pod_test_image",
    "static_pods",
    "test_daemonsets",
    "test_namespaces",
]

# Deliberate seconds (harness.waiting.deliberate) when a test's set-up began: its share, set-up and
# clean-up included, becomes its DELIBERATE_WAIT property; `make speed` subtracts them.
DELIBERATE_AT_START = pytest.StashKey[float]()
# Each collected test's kind config, by node id (only tests on the plugin's clusters).
KIND_CONFIGS = pytest.StashKey[dict[str, Path]]()
MARKERS = (
    "disruptive: restarts the kubelet, the container runtime or the API server; runs after the rest",
    "slow: takes more than a minute",
    "claim(id, verdict, evidence): what this test proves about a seed-article claim (S1..S21)",
    "kind_config(name): runs on a cluster made from this kind config (a name in kind-configs/)",
    "harness: tests the harness itself (interrupts, diagnostics, the plugin), not the kubelet",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser, "static-pod-harness", OPTIONS)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(parser: pytest.Parser) -> Iterator[None]:
    """Once every plugin and the first conftests have registered their options: the old names of
    ours, where they are still free (options.add_old_names)."""
    yield
    add_old_names(parser, OPTIONS)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    config.stash[FAILED] = False
    warn_old_names(config, OPTIONS)
    config.pluginmanager.register(kind_cluster, kind_cluster.PLUGIN_NAME)  # after pytest-kind's fixture
    config.stash[RESULTS] = RunResults(
        config, artifacts_dir(config), str(option_value(config, K8S_VERSION)).lstrip("v")
    )
    config.pluginmanager.register(config.stash[RESULTS], "static-pod-harness-results")
    parallel.configure(config)


def _pin_cache_dir(config: pytest.Config) -> None:
    """The harness's cache stays where it is now until the run ends, for this process and its children:
    a test that moves HOME (pytester's fixture does) must not make the provisioner forget a cluster
    record, or write the next cluster's CNI configs, anywhere but where the run began."""
    pinned = pytest.MonkeyPatch()
    pinned.setenv(CACHE_ENV, str(cache_dir()))
    config.add_cleanup(pinned.undo)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Claims onto each test's user_properties. Then, only if tests use the plugin's clusters: the
    options and their kind configs are checked, and those tests grouped by the cluster they need
    (--sph-kind-config's first; in an xdist worker last), disruptive ones last within a group, in the
    places they had among the others.

    With --sph-reuse-cluster every test runs on that one cluster, so tests that need a kind config of
    their own are deselected, listed, and their claims reported inconclusive: never silently.
    """
    claimed = False
    for item in items:
        claims = claim_properties(item.iter_markers("claim"), item.nodeid)
        item.user_properties += claims
        claimed = claimed or bool(claims)
    ours = [item for item in items if uses_clusters(item)]
    if ours or claimed:  # this run makes a claims report (and run.json): the old ones go
        if ours:
            _check_settings(config, ours)
        config.stash[RESULTS].start(collect_only=config.option.collectonly)
    if not ours:
        return
    _pin_cache_dir(config)
    settings = run_settings(config)
    if settings.reuse_cluster:
        dropped = [i for i in ours if kind_config_of(i, settings) != settings.kind_config]
        for item in dropped:
            config.stash[RESULTS].deselect(
                item,
                f"needs kind config {kind_config_of(item, settings).stem}; --sph-reuse-cluster runs "
                f"only --sph-kind-config {settings.kind_config.stem}",
            )
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if i not in dropped]
            ours = [i for i in ours if i not in dropped]
    configs = {item.nodeid: kind_config_of(item, settings) for item in ours}
    config.stash[KIND_CONFIGS] = configs
    parallel.write_groups(
        config, {nodeid: path.stem for nodeid, path in configs.items() if path != settings.kind_config}
    )
    places = [index for index, item in enumerate(items) if uses_clusters(item)]
    # In an xdist worker the other kind configs come first: the controller schedules in this order, so
    # that one worker makes their cluster while the others make theirs (parallel.py).
    others_first = hasattr(config, "workerinput")
    ordered = sorted(
        ours,
        key=lambda i: (
            (configs[i.nodeid] != settings.kind_config) != others_first,
            str(configs[i.nodeid]),
            i.get_closest_marker("disruptive") is not None,
        ),
    )
    for index, item in zip(places, ordered, strict=True):
        items[index] = item


def _check_settings(config: pytest.Config, ours: list[pytest.Item]) -> None:
    """The options, and the kind config of every test that names one: a bad one is one usage error."""
    try:
        settings = run_settings(config)
        for item in ours:
            _check_kind_config(item, settings)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


def _check_kind_config(item: pytest.Item, settings: Settings) -> None:
    marker = item.get_closest_marker("kind_config")
    if marker is None:
        return
    if len(marker.args) != 1 or not isinstance(marker.args[0], str) or marker.kwargs:
        raise HarnessError(f"{item.nodeid}: use kind_config(name), a name in kind-configs/ or a path")
    try:
        kindconfig.load(kind_config_of(item, settings))
    except HarnessError as exc:
        raise HarnessError(f"{item.nodeid}: {exc}") from None


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[DELIBERATE_AT_START] = deliberate_seconds()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Once the test's fixtures are torn down: the clean-up steps that are due (settling.py). The
    test's own may finish while the next test runs, if that one is on the same cluster and not
    disruptive. A failed fixture teardown stays the error; a clean-up failure is added as a note."""
    try:
        yield
    except BaseException as failure:
        try:
            _settle(item, nextitem)
        except Exception as also:
            failure.add_note(f"the clean-up steps due then failed too: {also}")
        raise
    _settle(item, nextitem)


def _settle(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    configs = item.config.stash.get(KIND_CONFIGS, {})
    if item.nodeid in configs:  # a test on the plugin's clusters
        settling.settle(
            item,
            keep_own=nextitem is not None
            and nextitem.get_closest_marker("disruptive") is None
            and configs.get(nextitem.nodeid) == configs[item.nodeid],
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.when == "teardown" and uses_clusters(item):  # set-up and clean-up waits included
        waited = deliberate_seconds() - item.stash.get(DELIBERATE_AT_START, deliberate_seconds())
        report.user_properties.append((DELIBERATE_WAIT, f"{waited:.1f}"))
    if report.failed:
        item.config.stash[FAILED] = True
        pods = item.stash.get(PODS, None)
        if pods is not None and report.when in ("call", "setup") and not pods.cluster.deleted:
            bundle = diagnostics.collect(run_settings(item.config).artifacts_dir, item.nodeid, pods)
            report.sections.append(("diagnostics", bundle.summary()))
    return report


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """Under the collected tests' count: what the run will make for the tests it runs (-k and -m
    deselected the others after this plugin grouped them; harness.plugin.summary). Not with -q, which
    leaves out pytest's own header too."""
    if KIND_CONFIGS not in config.stash or config.get_verbosity() < 0:  # no test uses the plugin's clusters
        return []
    running = {item.nodeid for item in items}
    configs = {nodeid: path for nodeid, path in config.stash[KIND_CONFIGS].items() if nodeid in running}
    return summary.planned(run_settings(config), configs) if configs else []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The run's summary, once (by the xdist controller), when its tests used clusters or made claims."""
    if hasattr(config, "workerinput"):
        return
    results = config.stash[RESULTS]
    seen = [dict(properties) for _, _, properties in results.outcomes.values()]
    if not any("claim" in properties or "cluster" in properties for properties in seen):
        return
    failed = {
        nodeid: dict(properties)
        for nodeid, (outcome, _, properties) in results.outcomes.items()
        if outcome in ("failed", "error")
    }
    lines = summary.ended(
        results.artifacts_dir,
        getattr(config.option, "xmlpath", None),
        failed,
        own_config=Path(str(option_value(config, KIND_CONFIG))).stem,
        kept=bool(option_value(config, KEEP_CLUSTER) or option_value(config, REUSE_CLUSTER)),
    )
    summary.write(terminalreporter, lines)
