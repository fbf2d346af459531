"""One typed object for everything a run can be told: built from pytest options.

The Makefile passes make variables (K8S_VERSION, KIND_CONFIG, NODE_IMAGE, ARTIFACTS,
KEEP_CLUSTER) as these options, so `make e2e` and a direct `pytest` call are the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.versions import KubeVersion

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KIND_CONFIGS = PROJECT_ROOT / "kind-configs"
DEFAULT_KIND_CONFIG = KIND_CONFIGS / "single-node.yaml"
# Where `make host-setup` installs kind.
DEFAULT_KIND_BIN = PROJECT_ROOT / ".tools" / "bin" / "kind"
DEFAULT_CLUSTER_NAME = "static-pods"
NODE_IMAGE_CHOICES = ("auto", "offline", "official")


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
    # Multiplies every wait's timeout: slow machines and CI set it above 1.
    timeout_scale: float
    # Skip e2e tests when no cluster can be had, instead of failing them (never in CI).
    skip_without_cluster: bool

    def timeout(self, seconds: float) -> float:
        return seconds * self.timeout_scale

    def __post_init__(self) -> None:
        if not self.kind_config.is_file():
            raise HarnessError(f"kind config {self.kind_config} does not exist (see {KIND_CONFIGS})")
        if self.timeout_scale <= 0:
            raise HarnessError(f"--timeout-scale must be positive, not {self.timeout_scale}")

    @staticmethod
    def resolve_kind_config(value: str | None) -> Path:
        """A path as given, or a name of a file in kind-configs/ ('multi-node')."""
        if not value:
            return DEFAULT_KIND_CONFIG
        path = Path(value)
        if path.exists():
            return path.resolve()
        for candidate in (KIND_CONFIGS / value, KIND_CONFIGS / f"{value}.yaml"):
            if candidate.exists():
                return candidate
        return path
