"""The run's settings, one typed object built from pytest options, only when a test needs a cluster.

The Makefile passes make variables (K8S_VERSION, KIND_CONFIG, NODE_IMAGE, ARTIFACTS,
KEEP_CLUSTER) as these options, so `make e2e` and a direct `pytest` call are the same run.
Nothing here runs for a pytest session whose tests use none of the plugin's fixtures: the
plugin is installed into environments whose other test suites must not notice it.
The timeout scale is not kept here: it is handed to harness.waiting once.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cluster import kindconfig
from harness.cluster.kind import Kind
from harness.errors import HarnessError
from harness.paths import find_kind
from harness.versions import KubeVersion
from harness.waiting import set_timeout_scale

# Clusters are named <this>-<kind config name>, e.g. static-pods-multi-node.
DEFAULT_CLUSTER_NAME = "static-pods"
# pytest-kind's default --cluster-name, replaced by ours.
PYTEST_KIND_DEFAULT_NAME = "pytest-kind"


@dataclass(frozen=True)
class Settings:
    k8s_version: KubeVersion
    # "auto" (official where a registry answers, else offline), "offline", "official",
    # or an image reference to use as it is.
    node_image: str
    kind_config: Path
    cluster_name: str
    kind_bin: Path
    artifacts_dir: Path
    keep_cluster: bool
    # Name of a running kind cluster to use instead of creating one (never deleted).
    reuse_cluster: str | None
    # Skip e2e tests when no cluster can be had, instead of failing them (never in CI).
    skip_without_cluster: bool
    # The user's own image, loaded into every node instead of the suite's testapp.
    test_image: str | None


def settings_from_options(config: pytest.Config) -> Settings:
    """Settings from the options, each checked: a bad one is a HarnessError that says what to do."""
    kind_config = kindconfig.resolve(config.getoption("kind_config"))
    kindconfig.load(kind_config)  # a config that does not exist or parse stops here
    kind_bin = find_kind(config.getoption("kind_bin"))
    Kind(kind_bin).check()
    set_timeout_scale(config.getoption("timeout_scale"))
    return Settings(
        k8s_version=KubeVersion.parse(config.getoption("k8s_version")),
        node_image=config.getoption("kind_image") or config.getoption("node_image"),
        kind_config=kind_config,
        cluster_name=_cluster_name(config),
        kind_bin=kind_bin,
        artifacts_dir=writable_directory(Path(config.getoption("artifacts_dir")).resolve()),
        keep_cluster=config.getoption("keep_cluster"),
        reuse_cluster=config.getoption("reuse_cluster"),
        skip_without_cluster=config.getoption("skip_without_cluster") and os.environ.get("CI") != "true",
        test_image=config.getoption("test_image"),
    )


def writable_directory(path: Path) -> Path:
    """`path`, made if missing, once a file could be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise HarnessError(
            f"artifacts directory {path} is not writable ({exc.strerror}): "
            "pass --artifacts-dir DIR (or set ARTIFACTS) to a writable directory"
        ) from None
    return path


def _cluster_name(config: pytest.Config) -> str:
    """--cluster-name (pytest-kind's option; its own default is replaced by ours), plus the xdist
    worker's id: each worker gets clusters of its own. The id comes from the worker's config, not
    PYTEST_XDIST_WORKER, which every process a worker starts inherits (a child pytest of a test)."""
    name = config.getoption("cluster_name")
    if name == PYTEST_KIND_DEFAULT_NAME:
        name = DEFAULT_CLUSTER_NAME
    worker = getattr(config, "workerinput", {}).get("workerid")
    return "-".join(filter(None, [name, worker]))
