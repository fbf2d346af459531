"""Stand-ins for Go modules that a Kubernetes release requires and the Go module proxy refuses.

A stand-in is a module written here (harness/nodeimage/standins/<name>/) that declares only what the
built commands use; what it does is its package comment, and why it exists is docs/versions.md. The
build replaces the required module with it only when the proxy refuses that version (403, 404 or 410;
any other failure stops the build), and says so; the node image then carries LABEL_STAND_INS, and each
run on that image names the stand-in in its node_image. A refusal is remembered in the build cache,
so that a build whose stages are all cached needs no proxy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from harness.nodeimage import gomodule
from harness.nodeimage.progress import log
from harness.paths import cache_dir

STAND_IN_DIRS = {
    "sigs.k8s.io/iptables-wrappers": Path(__file__).parent / "standins" / "iptables-wrappers",
}
LABEL_STAND_INS = "static-pod-harness.stand-ins"


@dataclass(frozen=True)
class StandIn:
    module: str
    version: str  # the version the release requires, which the proxy refused
    directory: Path

    def __str__(self) -> str:
        return f"{self.module}@{self.version}"

    def key(self) -> tuple[str, str]:
        """What a build cache key holds of it: the refused version and the stand-in's own files."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.directory.rglob("*") if p.is_file()):
            digest.update(path.relative_to(self.directory).as_posix().encode() + b"\0" + path.read_bytes())
        return str(self), digest.hexdigest()[:16]


def needed(kubernetes_gomod: str) -> list[StandIn]:
    """The stand-ins for the modules `kubernetes_gomod` requires that the module proxy refuses."""
    stand_ins = []
    for module, directory in STAND_IN_DIRS.items():
        required = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", kubernetes_gomod, re.M)
        if required is None:
            continue
        stand_in = StandIn(module, required.group(1), directory)
        if not directory.is_dir():
            raise gomodule.GoModuleError(f"the stand-in for {stand_in} is missing: {directory}")
        if _refused(stand_in):
            log(f"the Go module proxy refuses {stand_in}: building with its stand-in")
            stand_ins.append(stand_in)
    return stand_ins


def _refused(stand_in: StandIn) -> bool:
    """Does the proxy refuse the module? A refusal seen before answers without the proxy."""
    seen = cache_dir() / "standins" / f"{stand_in.module.replace('/', '_')}@{stand_in.version}.refused"
    try:
        gomodule.download(stand_in.module, stand_in.version)
    except gomodule.NotServed as answer:
        if not answer.refused:
            raise
        seen.parent.mkdir(parents=True, exist_ok=True)
        seen.write_text(answer.reason + "\n")
        return True
    except gomodule.GoModuleError:  # no proxy answered
        if seen.exists():
            return True
        raise
    seen.unlink(missing_ok=True)
    return False


def describe(image: str, labels: dict[str, str]) -> str:
    """The image's name, and the stand-ins it was built with (its labels say), if any."""
    stand_ins = labels.get(LABEL_STAND_INS)
    return f"{image} (built with a stand-in for {stand_ins})" if stand_ins else image
