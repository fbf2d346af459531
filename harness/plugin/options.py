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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from harness.cluster import kindconfig
from harness.cluster.kind import Kind
from harness.errors import HarnessError
from harness.nodeimage.choose import NODE_IMAGE_CHOICES
from harness.paths import find_kind
from harness.upgrade.binary import MAX_KUBELET_SKEW
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion
from harness.waiting import set_timeout_scale

# Every option of the harness is --sph-<name> (static-pod harness), every ini setting sph_<name>.
PREFIX = "sph"
PYTEST_KIND = "pytest-kind"


@dataclass(frozen=True)
class Option:
    """One setting: --sph-<name> on the command line, sph_<name> in [tool.pytest.ini_options].

    The command line wins over `env` (an environment variable a CI system sets for the run), which
    wins over the ini file, which wins over the default. `old` is the name it had before the prefix,
    accepted for one release with a deprecation warning where no other plugin owns it; `pytest_kind`
    is pytest-kind's option for the same setting (its dest and default), honoured without a warning
    when pytest-kind is loaded.
    """

    name: str
    help: str
    kind: Literal["string", "bool", "float"] = "string"
    default: str | bool | float | None = None
    old: str | None = None
    env: str | None = None
    pytest_kind: tuple[str, object] | None = None
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return f"--{PREFIX}-{self.name}"

    @property
    def dest(self) -> str:
        return f"{PREFIX}_{self.name.replace('-', '_')}"

    @property
    def shown_value(self) -> str:
        """What --help shows for the value: the metavar given, else the name's last word (VERSION)."""
        return self.metavar or self.name.rsplit("-", 1)[-1].upper()

    @property
    def old_dest(self) -> str:
        return f"{self.dest}_deprecated"


def add_options(parser: pytest.Parser, group_name: str, options: Iterable[Option]) -> None:
    """Each option on the command line (no default there: an unset one falls through to the ini file)
    and in the ini file."""
    group = parser.getgroup(group_name)
    for option in options:
        default = "" if option.default is None else f"; default {option.default}"
        shown = f"{option.help} (ini: {option.dest}{default})"
        if option.kind == "bool":
            group.addoption(option.flag, action="store_const", const=True, dest=option.dest, help=shown)
        else:
            group.addoption(option.flag, dest=option.dest, metavar=option.shown_value, help=shown)
        parser.addini(option.dest, option.help, type="bool" if option.kind == "bool" else "string")


def add_old_names(parser: pytest.Parser, options: Iterable[Option]) -> None:
    """The names options had before the prefix, each where no other plugin registered it (pytest-kind's
    --keep-cluster, pytest-kubernetes' --k8s-version): two plugins with one option stop pytest."""
    group = parser.getgroup("static-pod-harness: deprecated names, removed in the next release")
    for option in options:
        if option.old is None or _taken(parser, option.old):
            continue
        help = f"deprecated: use {option.flag}"
        if option.kind == "bool":
            group.addoption(option.old, action="store_const", const=True, dest=option.old_dest, help=help)
        else:
            group.addoption(option.old, dest=option.old_dest, metavar=option.shown_value, help=help)


def _taken(parser: pytest.Parser, name: str) -> bool:
    """Some plugin registered `name` already: parsing it alone changes something, or wants its value."""
    try:
        return vars(parser.parse_known_args([name])) != vars(parser.parse_known_args([]))
    except pytest.UsageError:  # "expected one argument": an option that takes a value
        return True


def warn_old_names(config: pytest.Config, options: Iterable[Option]) -> None:
    """One deprecation warning per old name used (by the xdist controller only, not by each worker)."""
    if hasattr(config, "workerinput"):
        return
    for option in options:
        if option.old and config.getoption(option.old_dest, None) is not None:
            config.issue_config_time_warning(
                pytest.PytestDeprecationWarning(
                    f"{option.old} is deprecated and goes in the next release: use {option.flag} "
                    f"(or {option.dest} in [tool.pytest.ini_options])"
                ),
                stacklevel=2,
            )


def option_value(config: pytest.Config, option: Option) -> str | bool | float | None:
    """The setting: --sph-<name>, its old name, pytest-kind's option, then `env`, the ini file, default."""
    given = config.getoption(option.dest, None)
    if given is None:
        given = config.getoption(option.old_dest, None)
    if given is None and option.pytest_kind and config.pluginmanager.has_plugin(PYTEST_KIND):
        dest, its_default = option.pytest_kind
        given = config.getoption(dest, its_default)
        given = None if given == its_default else given
    if given is None and option.env:
        given = os.environ.get(option.env) or None
    if given is None:
        given = config.getini(option.dest) or None
    if given is None:
        return option.default
    if option.kind == "float":
        try:
            return float(given)
        except ValueError:
            raise HarnessError(f"{option.flag} must be a number, not {given!r}") from None
    return given


# Clusters are named <this>-<kind config name>, e.g. static-pods-multi-node.
DEFAULT_CLUSTER_NAME = "static-pods"

K8S_VERSION = Option("k8s-version", "Kubernetes release", default=DEFAULT_K8S_VERSION, old="--k8s-version")
KIND_CONFIG = Option(
    "kind-config",
    "kind config: a path or a name in kind-configs/",
    default=kindconfig.DEFAULT_KIND_CONFIG.stem,
    old="--kind-config",
)
NODE_IMAGE = Option(
    "node-image",
    f"{' | '.join(NODE_IMAGE_CHOICES)} | an image reference",
    default="auto",
    old="--node-image",
    pytest_kind=("kind_image", None),
)
KIND_BIN = Option(
    "kind-bin",
    "the kind binary (default: PATH, then .tools/bin)",
    old="--kind-bin",
    pytest_kind=("kind_bin", None),
)
CLUSTER_NAME = Option(
    "cluster-name",
    "clusters are named <this>-<kind config>",
    default=DEFAULT_CLUSTER_NAME,
    old="--cluster-name",
    pytest_kind=("cluster_name", "pytest-kind"),
)
ARTIFACTS_DIR = Option(
    "artifacts-dir",
    "reports and diagnostics; $ARTIFACTS (as Prow and kubetest2 set it) comes before the ini file",
    default="artifacts",
    old="--artifacts-dir",
    env="ARTIFACTS",
)
KEEP_CLUSTER = Option(
    "keep-cluster",
    "keep the clusters after the run",
    kind="bool",
    default=False,
    old="--keep-cluster",
    pytest_kind=("keep_cluster", False),
)
REUSE_CLUSTER = Option(
    "reuse-cluster", "run against this existing kind cluster; it is never deleted", old="--reuse-cluster"
)
TEST_IMAGE = Option(
    "test-image",
    "an image in the local Docker loaded into every node instead of building the suite's testapp",
    old="--test-image",
)
TIMEOUT_SCALE = Option(
    "timeout-scale", "multiply every wait's timeout", kind="float", default=1.0, old="--timeout-scale"
)
SKIP_WITHOUT_CLUSTER = Option(
    "skip-without-cluster",
    "skip e2e tests when no cluster can be made (ignored in CI, where they fail)",
    kind="bool",
    default=False,
    old="--skip-without-cluster",
)
KUBELET_VERSION = Option(
    "kubelet-version",
    "a skewed cluster: every node's kubelet swapped for this release's once the cluster is made (the "
    "control plane stays at --sph-k8s-version), as in the middle of a rolling upgrade",
)
OPTIONS = (
    K8S_VERSION,
    KUBELET_VERSION,
    KIND_CONFIG,
    NODE_IMAGE,
    KIND_BIN,
    CLUSTER_NAME,
    ARTIFACTS_DIR,
    KEEP_CLUSTER,
    REUSE_CLUSTER,
    TEST_IMAGE,
    TIMEOUT_SCALE,
    SKIP_WITHOUT_CLUSTER,
)


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
    # Every node's kubelet at this older release (a skewed cluster), or None: the node image's own.
    kubelet_version: KubeVersion | None = None


def settings_from_options(config: pytest.Config) -> Settings:
    """Settings from the options, each checked: a bad one is a HarnessError that says what to do."""
    kind_config = kindconfig.resolve(str(option_value(config, KIND_CONFIG)))
    kindconfig.load(kind_config)  # a config that does not exist or parse stops here
    kind_bin = find_kind(option_value(config, KIND_BIN))
    Kind(kind_bin).check()
    set_timeout_scale(option_value(config, TIMEOUT_SCALE))
    k8s_version = KubeVersion.parse(str(option_value(config, K8S_VERSION)))
    kubelet = option_value(config, KUBELET_VERSION)
    return Settings(
        k8s_version=k8s_version,
        kubelet_version=skewed_kubelet(KubeVersion.parse(str(kubelet)), k8s_version) if kubelet else None,
        node_image=str(option_value(config, NODE_IMAGE)),
        kind_config=kind_config,
        cluster_name=_cluster_name(config),
        kind_bin=kind_bin,
        artifacts_dir=writable_directory(artifacts_dir(config)),
        keep_cluster=bool(option_value(config, KEEP_CLUSTER)),
        reuse_cluster=option_value(config, REUSE_CLUSTER),
        skip_without_cluster=bool(option_value(config, SKIP_WITHOUT_CLUSTER))
        and os.environ.get("CI") != "true",
        test_image=option_value(config, TEST_IMAGE),
    )


def skewed_kubelet(kubelet: KubeVersion, control_plane: KubeVersion) -> KubeVersion:
    """A kubelet the control plane supports (version-skew policy): not newer, at most 3 minors older."""
    if not kubelet < control_plane or control_plane.minor - kubelet.minor > MAX_KUBELET_SKEW:
        raise HarnessError(
            f"{KUBELET_VERSION.flag}={kubelet} with the control plane at {control_plane}: a kubelet is older "
            f"than the API server by at most {MAX_KUBELET_SKEW} minors (version-skew policy); use a "
            f"release from 1.{control_plane.minor - MAX_KUBELET_SKEW}.x, older than {control_plane}"
        )
    return kubelet


def artifacts_dir(config: pytest.Config) -> Path:
    return Path(str(option_value(config, ARTIFACTS_DIR))).resolve()


def writable_directory(path: Path) -> Path:
    """`path`, made if missing, once a file could be written there."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise HarnessError(
            f"artifacts directory {path} is not writable ({exc.strerror}): "
            f"pass {ARTIFACTS_DIR.flag} DIR (or set ARTIFACTS) to a writable directory"
        ) from None
    return path


def _cluster_name(config: pytest.Config) -> str:
    """--sph-cluster-name (or pytest-kind's --cluster-name), plus the xdist worker's id: each worker
    gets clusters of its own. The id comes from the worker's config, not PYTEST_XDIST_WORKER, which
    every process a worker starts inherits (a child pytest of a test)."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    return "-".join(filter(None, [str(option_value(config, CLUSTER_NAME)), worker]))
