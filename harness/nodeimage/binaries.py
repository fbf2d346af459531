"""Kubernetes, etcd, containerd, crictl and pause binaries, built here from Go modules and C.

Each Go component is built in a throw-away Go module of its own (so that their
dependency graphs never mix) with the Go module cache and build cache shared, as
upstream builds them: CGO_ENABLED=0, -trimpath, tags selinux,notest, version ldflags.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.nodeimage import gomodule, proc
from harness.nodeimage.progress import log
from harness.nodeimage.standins import StandIn
from harness.versions import KubeVersion

KUBERNETES_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kubeadm",
    "kubectl",
)
# The node's binaries (kind's node image puts them in /usr/bin); the rest go into images.
NODE_BINARIES = ("kubelet", "kubeadm", "kubectl")
# Only this cri-tools release is served by the module proxy here; crictl speaks CRI v1
# to any containerd from 1.7 on, so one release serves every Kubernetes version.
CRICTL_VERSION = "v1.34.0"
GO_TAGS = "selinux,notest"
# containerd's own binaries, built at the release kind's base image builds (kind's images/base/Dockerfile
# ARG CONTAINERD_VERSION), with the build tags it gives them, and CGO off: the optional snapshotters that
# would need C are left out by those tags. They go where kind's units expect them, /usr/local/bin.
CONTAINERD_BINARIES = ("containerd", "containerd-shim-runc-v2", "ctr")
CONTAINERD_TAGS = "no_aufs no_zfs no_btrfs no_devmapper"


class BuildError(HarnessError):
    pass


@dataclass(frozen=True)
class GoBuild:
    """One `go build` of some packages inside a throw-away module."""

    module_dir: Path
    gomod: str
    packages: tuple[str, ...]
    ldflags: str
    out: Path  # a directory when several packages are built, else the binary's path
    tags: str = GO_TAGS

    def run(self) -> None:
        self.module_dir.mkdir(parents=True, exist_ok=True)
        (self.module_dir / "go.mod").write_text(self.gomod)
        (self.module_dir / "go.sum").unlink(missing_ok=True)
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        cmd = [
            gomodule.go(),
            "build",
            "-v",  # each package's path as it is compiled: the heartbeat counts them
            "-trimpath",
            "-tags",
            self.tags,
            "-ldflags",
            self.ldflags,
            "-o",
            f"{self.out}/" if len(self.packages) > 1 else str(self.out),
            *self.packages,
        ]
        names = (
            " ".join(p.rsplit("/", 1)[-1] for p in self.packages) if len(self.packages) > 1 else self.out.name
        )
        start = time.monotonic()
        done = proc.run(
            cmd,
            cwd=self.module_dir,
            env=env,
            status=lambda _, err: f"go build {names}: {go_build_counts(err)}",
        )
        if done.returncode != 0:
            errors = [
                line
                for line in done.stderr.splitlines()
                if " " in line.strip() and not line.startswith("go: downloading")
            ]
            if error := gomodule.unreachable("\n".join(errors)):
                raise error
            raise BuildError(f"go build {' '.join(self.packages)} failed:\n" + "\n".join(errors[-30:]))
        log(f"  go build {names}: {time.monotonic() - start:.0f} s, {go_build_counts(done.stderr)}")


def go_build_counts(stderr: str) -> str:
    """What `go build -v` did so far: modules downloaded, packages compiled (the bare paths it prints)."""
    lines = stderr.splitlines()
    downloaded = sum(line.startswith("go: downloading ") for line in lines)
    compiled = sum(bool(line) and " " not in line for line in lines)
    return f"{compiled} packages compiled" + (f", {downloaded} modules downloaded" if downloaded else "")


def kubernetes_module(version: KubeVersion) -> gomodule.Module:
    """The unpacked k8s.io/kubernetes module of `version`; one line when the proxy does not serve it.

    A release whose go.mod needs a newer Go than the local one (1.38: go 1.27) is not unpacked by the
    local Go (GOTOOLCHAIN=local): it is downloaded again by the Go it names, which the go command
    fetches from the module proxy; its build then uses its own .go-version (toolchain.py)."""
    try:
        try:
            return gomodule.download("k8s.io/kubernetes", version.tag)
        except gomodule.NotServed as exc:
            if "requires go >=" not in exc.reason:
                raise
            newer_go = {**os.environ, "GOTOOLCHAIN": "auto"}
            return gomodule.download("k8s.io/kubernetes", version.tag, env=newer_go)
    except gomodule.NotServed as exc:
        raise gomodule.GoModuleError(
            f"Kubernetes {version} is not served by the Go module proxy ({exc.reason}): use another "
            f"release; the newest 1.{version.minor} known to build is {version.row.newest}"
        ) from None


def version_ldflags(version: KubeVersion, build_date: str) -> str:
    """What hack/lib/version.sh sets: kubeadm reads gitVersion to choose image tags."""
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version.tag}",
            f"-X {pkg}.gitMajor={version.major}",
            f"-X {pkg}.gitMinor={version.minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate={build_date}",
        ]
    return " ".join(flags)


def build_kubernetes(version: KubeVersion, stand_ins: list[StandIn], work: Path, out: Path) -> None:
    k8s = kubernetes_module(version)
    gomod_text = k8s.gomod.read_text()
    release_date = _module_time(k8s)
    GoBuild(
        module_dir=work / f"kubernetes-{version.tag}",
        gomod=gomodule.render_gomod(
            "static-pod-harness.local/build/kubernetes",
            version.tag,
            gomod_text,
            gomodule.go_directive(gomod_text),
            local={s.module: s.directory for s in stand_ins},
        ),
        packages=tuple(f"k8s.io/kubernetes/cmd/{cmd}" for cmd in KUBERNETES_COMMANDS),
        ldflags=version_ldflags(version, release_date),
        out=out,
    ).run()


def etcd_version(version: KubeVersion) -> str:
    """The etcd release kubeadm of this Kubernetes version deploys, e.g. 3.6.5-0."""
    k8s = kubernetes_module(version)
    constants = (k8s.dir / "cmd/kubeadm/app/constants/constants.go").read_text()
    match = re.search(r'DefaultEtcdVersion\s*=\s*"([^"]+)"', constants)
    if not match:
        raise BuildError(f"no DefaultEtcdVersion in kubeadm constants of {version.tag}")
    return match.group(1)


def build_etcd(image_tag: str, work: Path, out: Path) -> None:
    """etcd's server module has its main package at the module root."""
    release = "v" + image_tag.split("-")[0]
    module = "go.etcd.io/etcd/server/v3"
    gomodule.download(module, release)
    GoBuild(
        module_dir=work / f"etcd-{release}",
        gomod=_gomod("etcd", module, release),
        packages=(module,),
        ldflags="-s -w",
        out=out / "etcd",
    ).run()


def containerd_version(kind_dir: Path) -> str:
    """The containerd release kind's base image builds, e.g. v2.3.4."""
    dockerfile = kind_dir / "images/base/Dockerfile"
    match = re.search(r'^ARG CONTAINERD_VERSION="(v[^"]+)"', dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise BuildError(f"no ARG CONTAINERD_VERSION in {dockerfile}")
    return match.group(1)


def build_containerd(release: str, work: Path, out: Path) -> None:
    module = "github.com/containerd/containerd/v2"
    gomodule.download(module, release)
    GoBuild(
        module_dir=work / f"containerd-{release}",
        gomod=_gomod("containerd", module, release),
        packages=tuple(f"{module}/cmd/{name}" for name in CONTAINERD_BINARIES),
        ldflags=f"-s -w -X {module}/version.Version={release}",
        out=out,
        tags=CONTAINERD_TAGS,
    ).run()


def build_crictl(work: Path, out: Path) -> None:
    module = "sigs.k8s.io/cri-tools"
    gomodule.download(module, CRICTL_VERSION)
    GoBuild(
        module_dir=work / f"crictl-{CRICTL_VERSION}",
        gomod=_gomod("crictl", module, CRICTL_VERSION),
        packages=(f"{module}/cmd/crictl",),
        ldflags=f"-s -w -X {module}/pkg/version.Version={CRICTL_VERSION}",
        out=out / "crictl",
    ).run()


def build_pause(version: KubeVersion, pause_tag: str, out: Path) -> None:
    """Kubernetes' own pause.c (build/pause/linux in k8s.io/kubernetes), linked statically."""
    k8s = kubernetes_module(version)
    source = k8s.dir / "build/pause/linux/pause.c"
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise BuildError("a C compiler is needed for the pause binary: apt-get install gcc libc6-dev")
    compiled = subprocess.run(
        [
            cc,
            "-Os",
            "-static",
            "-Wall",
            "-Werror",
            f"-DVERSION=v{pause_tag}",
            "-o",
            str(out / "pause"),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    if compiled.returncode != 0:
        raise BuildError(f"compiling {source} failed: {compiled.stderr.strip()}")
    subprocess.run(["strip", str(out / "pause")], check=True)


def _gomod(name: str, module: str, version: str) -> str:
    """go.mod of a module that only requires `module` (which has no replace of its own to honour)."""
    return f"module static-pod-harness.local/build/{name}\n\ngo 1.24\n\nrequire {module} {version}\n"


def _module_time(module: gomodule.Module) -> str:
    info = module.gomod.with_suffix(".info")
    match = re.search(r'"Time":"([^"]+)"', info.read_text()) if info.exists() else None
    return match.group(1) if match else "1970-01-01T00:00:00Z"
