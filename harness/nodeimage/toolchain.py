"""The Go toolchain that builds one Kubernetes release, as the versions table says (harness.versions).

"local": the local Go. "release": the toolchain upstream released it with, the `.go-version` file at
the root of k8s.io/kubernetes (go1.23.10 for v1.30.14, go1.27.3 for v1.38.0-beta.0), else the go
directive of its go.mod: older releases, so that the kubelet an upgrade check starts from is the one
users ran, and releases that need a newer Go than the local one. The go command fetches that toolchain
from the module proxy (golang.org/toolchain) when GOTOOLCHAIN names it, and every `go` subprocess
inherits GOTOOLCHAIN from os.environ.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.nodeimage.gomodule import GoModuleError, go_directive
from harness.versions import KubeVersion

_GO_VERSION = re.compile(r"^(?:go)?(1\.\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Toolchain:
    """`gotoolchain` is a GOTOOLCHAIN value (go1.24.9), or None for the local Go untouched."""

    gotoolchain: str | None
    reason: str


def choose(version: KubeVersion, k8s_dir: Path) -> Toolchain:
    """The toolchain for `version`, whose k8s.io/kubernetes module is unpacked at `k8s_dir`."""
    if version.row.go == "local":
        return Toolchain(None, f"local Go: 1.{version.minor} builds with it (harness/versions.py)")
    return release_toolchain(k8s_dir)


def release_toolchain(k8s_dir: Path) -> Toolchain:
    """The toolchain upstream built this release with (.go-version), else its go.mod minimum."""
    pinned = k8s_dir / ".go-version"
    if pinned.exists():
        return Toolchain(_toolchain_name(pinned.read_text()), "upstream's release toolchain (.go-version)")
    gomod = k8s_dir / "go.mod"
    return Toolchain(_toolchain_name(go_directive(gomod.read_text())), "go directive of k8s.io/kubernetes")


def _toolchain_name(text: str) -> str:
    match = _GO_VERSION.match(text.strip())
    if not match:
        raise GoModuleError(f"{text.strip()!r} is not a Go version such as 1.24.9")
    name = match.group(1)
    # Before Go 1.21 a release was "go1.20"; from 1.21 on the first release is "go1.21.0".
    go_feature = int(name.split(".")[1])
    return f"go{name}.0" if go_feature >= 21 and name.count(".") == 1 else f"go{name}"


@contextmanager
def applied(toolchain: Toolchain) -> Iterator[None]:
    """Set GOTOOLCHAIN for the `go` commands run inside the block, then restore it."""
    if toolchain.gotoolchain is None:
        yield
        return
    previous = os.environ.get("GOTOOLCHAIN")
    os.environ["GOTOOLCHAIN"] = toolchain.gotoolchain
    try:
        yield
    finally:
        if previous is None:
            del os.environ["GOTOOLCHAIN"]
        else:
            os.environ["GOTOOLCHAIN"] = previous
