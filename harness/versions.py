"""Pinned versions and Kubernetes version parsing.

kind supports a node image only with the kind release it was made for; KIND_VERSION is
the release this project builds images for and runs clusters with. The Makefile reads
these values (`python -m harness.versions`) so that they are written down once.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from harness.errors import HarnessError

KIND_VERSION = "v0.30.0"
DEFAULT_K8S_VERSION = "1.34.4"
# Minor releases the offline builder and the kind configs are made for. kind v0.30.0 writes
# kubeadm's v1beta3 config for every Kubernetes from 1.23 on (pkg/cluster/internal/kubeadm/
# config.go), which kubeadm 1.30 to 1.35 all read; 1.30 to 1.32 build with an older Go
# toolchain (harness/nodeimage/toolchain.py).
SUPPORTED_MINORS = (30, 31, 32, 33, 34, 35)

_VERSION = re.compile(r"^v?(1)\.(\d+)\.(\d+)$")


@dataclass(frozen=True, order=True)
class KubeVersion:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        match = _VERSION.match(text.strip())
        if not match:
            raise HarnessError(
                f"K8S_VERSION={text!r} is not a Kubernetes release such as {DEFAULT_K8S_VERSION} "
                "(major.minor.patch)"
            )
        version = cls(*(int(g) for g in match.groups()))
        if version.minor not in SUPPORTED_MINORS:
            supported = ", ".join(f"1.{m}.x" for m in SUPPORTED_MINORS)
            raise HarnessError(
                f"K8S_VERSION={text} is not supported with kind {KIND_VERSION}: use one of {supported}"
            )
        return version

    @property
    def tag(self) -> str:
        """The git tag form, v1.34.4."""
        return f"v{self.major}.{self.minor}.{self.patch}"

    @property
    def staging_tag(self) -> str:
        """The tag of the staging modules (k8s.io/api, ...) of this release, v0.34.4."""
        return f"v0.{self.minor}.{self.patch}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


if __name__ == "__main__":
    # `python -m harness.versions kind|k8s`: print a pin for the Makefile.
    print({"kind": KIND_VERSION, "k8s": DEFAULT_K8S_VERSION}[sys.argv[1]])
