"""Checks on the inputs of an upgrade check: a user's kubelet binary, and the FROM/TO order.

Version-skew policy (kubernetes.io/releases/version-skew-policy): kube-apiserver is
never older than a kubelet, and since 1.28 a kubelet may be up to three minor versions
older than kube-apiserver. The check runs the control plane at TO and starts the node
under test with FROM's kubelet, so FROM must be older than TO and at most three minors
behind it.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.versions import KubeVersion

# ELF e_machine of each node architecture, as `uname -m` names it (and Go's GOARCH).
ELF_MACHINES = {"x86_64": 62, "amd64": 62, "aarch64": 183, "arm64": 183}
_ELF_NAMES = {62: "x86_64", 183: "aarch64", 3: "i386", 40: "arm", 243: "riscv64"}
_EXECUTABLE_TYPES = (2, 3)  # ET_EXEC, ET_DYN (position-independent executables)
MAX_KUBELET_SKEW = 3
_KUBELET_VERSION = re.compile(r"^Kubernetes v(1)\.(\d+)\.(\d+)(\S*)$")


@dataclass(frozen=True)
class KubeletBinary:
    path: Path
    version: KubeVersion
    reported: str  # what `--version` printed after "Kubernetes ", e.g. v1.32.0-alpha.1+0a1b2c


def validate_kubelet_binary(path: Path, arch: str, *, timeout: float = 30.0) -> KubeletBinary:
    """A kubelet the node under test can run; one HarnessError line for each problem."""
    what = f"--kubelet-binary {path}"
    if not path.exists():
        raise HarnessError(
            f"{what}: no such file; give the path of a kubelet binary, e.g. _output/bin/kubelet"
        )
    if not path.is_file():
        raise HarnessError(f"{what}: not a regular file; give the kubelet binary itself")
    if not os.access(path, os.X_OK) or not path.stat().st_mode & stat.S_IXUSR:
        raise HarnessError(f"{what}: not executable; run chmod +x {path}")
    with path.open("rb") as file:
        machine = elf_machine(file.read(64))
    if machine is None:
        raise HarnessError(f"{what}: not an ELF executable (a script or an archive?); give the binary itself")
    wanted = ELF_MACHINES.get(arch)
    if wanted is None:
        raise HarnessError(f"{what}: the node's architecture {arch!r} is not one of {sorted(ELF_MACHINES)}")
    if machine != wanted:
        built = _ELF_NAMES.get(machine, f"e_machine {machine}")
        raise HarnessError(f"{what}: built for {built}, the node runs {arch}; rebuild it for {arch}")
    try:
        proc = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HarnessError(f"{what}: `{path} --version` did not run: {exc}") from exc
    output = proc.stdout.strip() or proc.stderr.strip()
    if proc.returncode != 0:
        first = output.splitlines()[0] if output else f"exit code {proc.returncode}"
        raise HarnessError(f"{what}: `{path} --version` failed: {first}")
    version, reported = parse_kubelet_version(output, what)
    return KubeletBinary(path, version, reported)


def elf_machine(header: bytes) -> int | None:
    """e_machine of a 64-bit ELF executable's header, or None when it is not one."""
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] not in (1, 2):
        return None
    order = "little" if header[5] == 1 else "big"
    if int.from_bytes(header[16:18], order) not in _EXECUTABLE_TYPES:
        return None
    return int.from_bytes(header[18:20], order)


def parse_kubelet_version(output: str, what: str = "kubelet") -> tuple[KubeVersion, str]:
    """`kubelet --version` prints "Kubernetes v1.31.14" (a development build adds a suffix)."""
    line = output.strip().splitlines()[0] if output.strip() else ""
    match = _KUBELET_VERSION.match(line.strip())
    if not match:
        raise HarnessError(f"{what}: `--version` printed {line!r}, not 'Kubernetes v1.x.y': is it a kubelet?")
    major, minor, patch, _ = match.groups()
    return KubeVersion(int(major), int(minor), int(patch)), line.strip().removeprefix("Kubernetes ")


def check_order(from_version: KubeVersion, to_version: KubeVersion) -> None:
    """FROM older than TO, and FROM's kubelet within the skew TO's API server supports."""
    if from_version >= to_version:
        raise HarnessError(
            f"FROM={from_version} is not older than TO={to_version}: an upgrade check needs FROM < TO"
        )
    skew = to_version.minor - from_version.minor
    if skew > MAX_KUBELET_SKEW:
        raise HarnessError(
            f"FROM={from_version} is {skew} minors older than TO={to_version}: a kubelet may be at most "
            f"{MAX_KUBELET_SKEW} minors older than the API server (version-skew policy); "
            f"use FROM 1.{to_version.minor - MAX_KUBELET_SKEW}.x or later"
        )
