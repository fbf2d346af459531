"""A throw-away Go module that builds Kubernetes components from the Go module proxy.

`go install k8s.io/kubernetes/cmd/kubelet@vX` does not work: k8s.io/kubernetes's go.mod
requires its staging modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and replaces
them with ./staging paths. A module of our own that requires k8s.io/kubernetes and
replaces each of those with its published v0.<minor>.<patch> resolves normally.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.nodeimage.progress import heartbeat

# The HTTP statuses with which a module proxy refuses a module version it does not serve.
REFUSED_STATUS = "(?:403|404|410)"
STAGING_REQUIRE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+v0\.0\.0\s*$", re.MULTILINE)
# go's words when the module proxy (or the checksum database) cannot be reached at all
_UNREACHABLE = re.compile(
    r"dial tcp|no such host|connection refused|i/o timeout|network is unreachable|"
    r"TLS handshake timeout|proxyconnect|Client.Timeout exceeded"
)


class GoModuleError(HarnessError):
    """A Go module could not be resolved (unknown version, proxy unreachable), or no Go at all."""


class NotServed(GoModuleError):
    """The module proxy answered, and does not serve that version; `reason` is its answer."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def refused(self) -> bool:
        """Did the proxy refuse the version outright (REFUSED_STATUS), rather than fail otherwise?"""
        return re.match(rf"{REFUSED_STATUS}\b", self.reason) is not None


def go() -> str:
    """The go command's path, or one line that says how to get one."""
    path = shutil.which("go")
    if path is None:
        raise GoModuleError(
            "Go is not installed (no `go` on PATH): install Go 1.24 or later "
            "(https://go.dev/dl/), then run again"
        )
    return path


def unreachable(output: str) -> GoModuleError | None:
    """The error for go output that says the module proxy did not answer, else None."""
    line = next((line for line in output.splitlines() if _UNREACHABLE.search(line)), None)
    if line is None:
        return None
    return GoModuleError(
        f"the Go module proxy does not answer ({line.strip()[:200]}): check the network, or set "
        "GOPROXY to a proxy that answers (`go env GOPROXY` shows the one in use), then run again"
    )


def go_version() -> str:
    """The version of the Go that runs (GOTOOLCHAIN may make it fetch a release toolchain first)."""
    with heartbeat(f"Go toolchain {os.environ.get('GOTOOLCHAIN', 'local')}"):
        proc = subprocess.run([go(), "env", "GOVERSION"], capture_output=True, text=True, cwd="/")
    if proc.returncode != 0:
        detail = proc.stderr.strip() or proc.stdout.strip()
        last = detail.splitlines()[-1] if detail else f"exit {proc.returncode}"
        raise unreachable(detail) or GoModuleError(f"`go env GOVERSION` failed: {last}")
    return proc.stdout.strip()


@dataclass(frozen=True)
class Module:
    path: str
    version: str
    dir: Path
    gomod: Path


def download(path: str, version: str, *, env: dict[str, str] | None = None) -> Module:
    """`go mod download` one module and return where the Go module cache put it."""
    with heartbeat(f"go mod download {path}@{version}"):
        proc = subprocess.run(
            [go(), "mod", "download", "-json", f"{path}@{version}"],
            capture_output=True,
            text=True,
            env=env,
            cwd="/",
        )
    try:
        info = json.loads(proc.stdout)
    except json.JSONDecodeError:
        info = {"Error": proc.stderr.strip() or proc.stdout.strip()}
    if proc.returncode != 0 or "Error" in info:
        error = unreachable(f"{info.get('Error')}\n{proc.stderr}")
        if error:
            raise error
        answer = str(info.get("Error")).splitlines()[0]
        raise NotServed(
            f"cannot get Go module {path}@{version}: {answer} "
            "(is it a released version, and does the Go module proxy answer? see `go env GOPROXY`)",
            reason=answer.rsplit(": ", 1)[-1],
        )
    return Module(path, info["Version"], Path(info["Dir"]), Path(info["GoMod"]))


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """The staging modules that k8s.io/kubernetes's go.mod requires at v0.0.0."""
    return sorted(set(STAGING_REQUIRE.findall(kubernetes_gomod)))


def render_gomod(
    module_name: str,
    k8s_version: str,
    kubernetes_gomod: str,
    go_directive: str,
    local: Mapping[str, Path] | None = None,
) -> str:
    """go.mod for a module that builds k8s.io/kubernetes at `k8s_version` (e.g. v1.34.4), with the
    modules in `local` replaced by the directories given (harness.nodeimage.standins)."""
    staging_version = "v0." + k8s_version.removeprefix("v").split(".", 1)[1]
    lines = [
        f"module {module_name}",
        "",
        f"go {go_directive}",
        "",
        f"require k8s.io/kubernetes {k8s_version}",
        "",
        "replace (",
        *(f"\t{m} => {m} {staging_version}" for m in staging_modules(kubernetes_gomod)),
        *(f"\t{m} => {directory}" for m, directory in sorted((local or {}).items())),
        ")",
        "",
    ]
    return "\n".join(lines)


def go_directive(gomod: str) -> str:
    match = re.search(r"^go\s+(\S+)", gomod, re.MULTILINE)
    if not match:
        raise GoModuleError("go.mod has no go directive")
    return match.group(1)
