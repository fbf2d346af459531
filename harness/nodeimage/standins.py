"""Stand-ins for Go modules that a Kubernetes release requires and the Go module proxy refuses.

A stand-in is a module written here (harness/nodeimage/standins/<name>/) that declares only what the
built commands use, with its own behaviour said in its package comment. The build replaces the
required module with it only when the proxy refuses that version, and says so; the node image then
carries LABEL_STAND_INS, and each run on that image names the stand-in in its node_image.

One so far: Kubernetes 1.38's kubelet imports sigs.k8s.io/iptables-wrappers v1.0.0, whose zip the
module proxy reachable here refuses (403); its stand-in finds no iptables on the host.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import docker

from harness.nodeimage import gomodule
from harness.nodeimage.progress import log

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
        try:
            gomodule.download(module, required.group(1))
        except gomodule.NotServed as refused:
            stand_in = StandIn(module, required.group(1), directory)
            log(f"the Go module proxy refuses {stand_in} ({refused.reason}): building with its stand-in")
            stand_ins.append(stand_in)
    return stand_ins


def describe(client: docker.DockerClient, image: str) -> str:
    """The image's name, and the stand-ins it was built with, if any."""
    stand_ins = (client.images.get(image).labels or {}).get(LABEL_STAND_INS)
    return f"{image} (built with a stand-in for {stand_ins})" if stand_ins else image
