"""Build the offline kind node image for one Kubernetes version, stage by stage, cached."""

from __future__ import annotations

import functools
import platform
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker

from harness.dockerclient import image_exists
from harness.nodeimage import assemble, binaries, gomodule, images, recipes, rootfs, standins, toolchain
from harness.nodeimage.progress import log
from harness.nodeimage.stages import Stages, cache_key
from harness.nodeimage.standins import StandIn
from harness.paths import cache_dir
from harness.versions import KIND_VERSION, KubeVersion

# Every image the build tags in the host's Docker is named under this namespace, which is not
# a setting: one that named someone else's (e.g. kindest/node) would let a build move their tags.
# Nothing outside it is ever tagged, and an image there that no build made is never replaced.
NAMESPACE = "static-pod-harness"
LOCAL_GO = toolchain.Toolchain(None, "local Go")
# go's words for a module version the proxy refuses
_REFUSED = re.compile(rf"([\w./-]+@v[\w.+-]+): reading \S+: {gomodule.REFUSED_STATUS} ")


def image_name(version: KubeVersion) -> str:
    return f"{NAMESPACE}/node:{version.tag}"


@contextmanager
def _unserved_modules_explained(version: KubeVersion) -> Iterator[None]:
    """A build that failed because the module proxy refuses some module versions says so in one line.

    Some proxies serve only part of the staging modules' releases (v1.31.14 here: no
    k8s.io/kube-scheduler@v0.31.14, among others), so another patch release may build.
    """
    try:
        yield
    except binaries.BuildError as exc:
        refused = sorted(set(_REFUSED.findall(str(exc))))
        if not refused:
            raise
        raise binaries.BuildError(
            f"{version.tag} cannot be built from this Go module proxy, which does not serve "
            f"{', '.join(refused)}; choose another patch release: go list -m -versions k8s.io/kubernetes"
        ) from exc


def _go_key(release: toolchain.Toolchain = LOCAL_GO) -> tuple[str, str, str]:
    """What a Go stage's key holds of its builder: the Go that runs, the machine, and the
    revision of the recipe that builds with it."""
    with toolchain.applied(release):
        return (gomodule.go_version(), platform.machine(), recipes.GO)


# Each stage's cache key: what its output depends on. Changing what a key holds (or its order)
# invalidates every cache made before; tests/unit/test_build_safety.py pins the layout.
def kubernetes_key(version_tag: str, go: tuple[str, str, str], stand_ins: list[StandIn] | None = None) -> str:
    if stand_ins:
        return cache_key("kubernetes", version_tag, go, [s.key() for s in stand_ins])
    return cache_key("kubernetes", version_tag, go)


def binary_keys(
    version_tag: str,
    etcd_tag: str,
    containerd_tag: str,
    sandbox: str,
    go: tuple[str, str, str],
    *,
    kind_version: str = KIND_VERSION,
    machine: str | None = None,
) -> dict[str, str]:
    """The keys of the stages built with the local Go (etcd, containerd, crictl, pause) and of the rootfs."""
    return {
        "etcd": cache_key("etcd", etcd_tag, go),
        "containerd": cache_key("containerd", containerd_tag, go),
        "crictl": cache_key("crictl", binaries.CRICTL_VERSION, go),
        "pause": cache_key("pause", version_tag, sandbox, go),
        "rootfs": cache_key(
            "rootfs", rootfs.PACKAGES, kind_version, machine or platform.machine(), recipes.ROOTFS
        ),
    }


def archives_key(wanted: dict[str, list[str]], keys: dict[str, str]) -> str:
    return cache_key("archives", wanted, keys["kubernetes"], keys["etcd"], keys["pause"], recipes.IMAGES)


def assemble_key(archives: str, keys: dict[str, str]) -> str:
    return cache_key(archives, keys["rootfs"], keys["crictl"], keys["containerd"], recipes.ASSEMBLE)


def _kubernetes_stage(version: KubeVersion, stages: Stages) -> tuple[Path, str, list[StandIn]]:
    """The Kubernetes binaries of `version`, built with its release's toolchain, their key, and the
    stand-ins they were built with."""
    k8s = binaries.kubernetes_module(version)
    release = toolchain.choose(version, k8s.dir)
    go = _go_key(release)
    log(f"{version.tag} builds with {go[0]}: {release.reason}")
    with toolchain.applied(release):
        stand_ins = standins.needed(k8s.gomod.read_text())
    key = kubernetes_key(version.tag, go, stand_ins)
    directory = cache_dir() / "bin" / f"kubernetes-{version.tag}"
    make = functools.partial(binaries.build_kubernetes, version, stand_ins, cache_dir() / "gobuild")
    with toolchain.applied(release), _unserved_modules_explained(version):
        return stages.run(f"kubernetes {version.tag}", directory, key, make), key, stand_ins


def kubernetes_binaries(version: KubeVersion) -> Path:
    """Build (or find cached) only the Kubernetes binaries of `version`; returns their directory."""
    with Stages() as stages:
        return _kubernetes_stage(version, stages)[0]


def build(version: KubeVersion, client: docker.DockerClient) -> str:
    """Build (or find cached) the node image for `version`; returns its name."""
    with Stages() as stages:
        return _build(version, client, stages)


def _build(version: KubeVersion, client: docker.DockerClient, stages: Stages) -> str:
    binaries.kubernetes_module(version)
    cache = cache_dir()
    kind_dir = gomodule.download("sigs.k8s.io/kind", KIND_VERSION).dir
    kind_files = kind_dir / "images/base/files"
    sandbox = images.sandbox_image((kind_files / "etc/containerd/config.toml").read_text())
    etcd_tag = binaries.etcd_version(version)
    containerd_tag = binaries.containerd_version(kind_dir)
    kubernetes_dir, kubernetes_stage_key, stand_ins = _kubernetes_stage(version, stages)
    # etcd, crictl and pause (C) build with the local Go: binaries.py writes `go 1.24` in
    # etcd's and crictl's build modules, which an older release toolchain would refuse.
    keys = {
        "kubernetes": kubernetes_stage_key,
        **binary_keys(version.tag, etcd_tag, containerd_tag, sandbox, _go_key()),
    }
    gobuild = cache / "gobuild"
    binary_stages: dict[str, tuple[str, str, Callable[[Path], None]]] = {
        "etcd": (
            f"etcd {etcd_tag}",
            f"etcd-{etcd_tag}",
            lambda out: binaries.build_etcd(etcd_tag, gobuild, out),
        ),
        "containerd": (
            f"containerd {containerd_tag}",
            f"containerd-{containerd_tag}",
            lambda out: binaries.build_containerd(containerd_tag, gobuild, out),
        ),
        "crictl": (
            f"crictl {binaries.CRICTL_VERSION}",
            "crictl",
            lambda out: binaries.build_crictl(gobuild, out),
        ),
        "pause": (
            "pause",
            f"pause-{version.tag}",
            lambda out: binaries.build_pause(version, sandbox.rsplit(":", 1)[1], out),
        ),
    }
    bins = {"kubernetes": kubernetes_dir}
    for key, (label, directory, make) in binary_stages.items():
        with _unserved_modules_explained(version):
            bins[key] = stages.run(label, cache / "bin" / directory, keys[key], make)
    rootfs_dir = stages.run(
        f"rootfs (debian {rootfs.SUITE})",
        cache / "rootfs",
        keys["rootfs"],
        lambda out: rootfs.build_rootfs_tar(out, kind_files),
    )
    base = f"{NAMESPACE}/node-base:{keys['rootfs']}"
    stages.run_image(
        "base image",
        cache / "rootfs.image.lock",
        lambda: image_exists(client, base),
        lambda: assemble.base_image(client, rootfs_dir / "rootfs.tar", base),
    )

    wanted = images.wanted_images(images.kubeadm_images(bins["kubernetes"] / "kubeadm", version.tag), sandbox)
    binary_paths = {
        "etcd": bins["etcd"] / "etcd",
        "pause": bins["pause"] / "pause",
        **{n: bins["kubernetes"] / n for n in binaries.KUBERNETES_COMMANDS},
    }
    archives = archives_key(wanted, keys)
    scratch = f"{NAMESPACE}/build"
    archives_dir = stages.run(
        "component images",
        cache / "images" / version.tag,
        archives,
        lambda out: [
            images.save_image_archives(client, binary_paths[b], names, out, scratch)
            for b, names in wanted.items()
        ],
    )
    name = image_name(version)
    inputs = assemble_key(archives, keys)
    stages.run_image(
        "assemble",
        cache / "images" / f"{version.tag}.image.lock",
        lambda: assemble.find_image(client, name, inputs),
        lambda: assemble.assemble(
            client,
            base=base,
            name=name,
            version_tag=version.tag,
            inputs=inputs,
            node_binaries={f"/usr/bin/{n}": bins["kubernetes"] / n for n in binaries.NODE_BINARIES}
            | {f"/usr/local/bin/{n}": bins["containerd"] / n for n in binaries.CONTAINERD_BINARIES}
            | {"/usr/local/bin/crictl": bins["crictl"] / "crictl"},
            archives=sorted(archives_dir.glob("*.tar")),
            expected_images=[n for names in wanted.values() for n in names],
            stand_ins=stand_ins,
        ),
    )
    log(stages.report())
    log(f"image {name}: {client.images.get(name).attrs['Size'] / 1e6:.0f} MB")
    return name
