"""The run's settings, one typed object built from pytest options.

The Makefile passes make variables (K8S_VERSION, KIND_CONFIG, NODE_IMAGE, ARTIFACTS,
KEEP_CLUSTER) as these options, so `make e2e` and a direct `pytest` call are the same run.
The timeout scale is not kept here: it is handed to harness.waiting once, at configure time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import KIND_CONFIGS
from harness.versions import KubeVersion

# Clusters are named <this>-<kind config name>, e.g. static-pods-multi-node.
DEFAULT_CLUSTER_NAME = "static-pods"


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

    def __post_init__(self) -> None:
        if not self.kind_config.is_file():
            raise HarnessError(f"kind config {self.kind_config} does not exist (see {KIND_CONFIGS})")
