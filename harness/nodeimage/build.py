"""Build the offline kind node image for one Kubernetes version, stage by stage, cached."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import docker

from harness.dockerclient import image_exists
from harness.nodeimage import assemble, binaries, gomodule, images, rootfs
from harness.nodeimage.stages import StageTimes, cache_key, hash_files, log, run_image_stage, run_stage
from harness.versions import KIND_VERSION, KubeVersion

IMAGE_REPOSITORY = "static-pod-harness/node"
BASE_REPOSITORY = "static-pod-harness/node-base"


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "static-pod-harness"
    return Path(os.environ.get("STATIC_POD_HARNESS_CACHE", default))


def image_name(version: KubeVersion) -> str:
    return f"{IMAGE_REPOSITORY}:{version.tag}"


def _go_version() -> str:
    return subprocess.run(
        ["go", "env", "GOVERSION"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _source(*modules: ModuleType) -> str:
    return hash_files(*(Path(m.__file__) for m in modules))


def build(version: KubeVersion, client: docker.DockerClient) -> str:
    """Build (or find cached) the node image for `version`; returns its name."""
    cache = cache_dir()
    times = StageTimes()
    kind_files = gomodule.download("sigs.k8s.io/kind", KIND_VERSION).dir / "images/base/files"
    sandbox = images.sandbox_image((kind_files / "etc/containerd/config.toml").read_text())
    etcd_tag = binaries.etcd_version(version)
    # A stage's key holds its inputs and the source of the module that builds it, so that
    # editing one module rebuilds only what that module makes.
    go = (_go_version(), platform.machine(), _source(binaries, gomodule))
    keys = {
        "kubernetes": cache_key("kubernetes", version.tag, go),
        "etcd": cache_key("etcd", etcd_tag, go),
        "crictl": cache_key("crictl", binaries.CRICTL_VERSION, go),
        "pause": cache_key("pause", version.tag, sandbox, go),
        "rootfs": cache_key("rootfs", rootfs.PACKAGES, KIND_VERSION, platform.machine(), _source(rootfs)),
    }
    gobuild = cache / "gobuild"
    binary_stages: dict[str, tuple[str, str, Callable[[Path], None]]] = {
        "kubernetes": (
            f"kubernetes {version.tag}",
            f"kubernetes-{version.tag}",
            lambda out: binaries.build_kubernetes(version, gobuild, out),
        ),
        "etcd": (
            f"etcd {etcd_tag}",
            f"etcd-{etcd_tag}",
            lambda out: binaries.build_etcd(etcd_tag, gobuild, out),
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
    bins = {
        key: run_stage(times, label, cache / "bin" / directory, keys[key], make)
        for key, (label, directory, make) in binary_stages.items()
    }
    rootfs_dir = run_stage(
        times,
        f"rootfs (debian {rootfs.SUITE})",
        cache / "rootfs",
        keys["rootfs"],
        lambda out: rootfs.build_rootfs_tar(out, kind_files),
    )
    base = f"{BASE_REPOSITORY}:{keys['rootfs']}"
    run_image_stage(
        times,
        "base image",
        lambda: image_exists(client, base),
        lambda: assemble.base_image(client, rootfs_dir / "rootfs.tar", base),
    )

    wanted = images.wanted_images(images.kubeadm_images(bins["kubernetes"] / "kubeadm", version.tag), sandbox)
    binary_paths = {
        "etcd": bins["etcd"] / "etcd",
        "pause": bins["pause"] / "pause",
        **{n: bins["kubernetes"] / n for n in binaries.KUBERNETES_COMMANDS},
    }
    archives_key = cache_key(
        "archives", wanted, keys["kubernetes"], keys["etcd"], keys["pause"], _source(images)
    )
    archives_dir = run_stage(
        times,
        "component images",
        cache / "images" / version.tag,
        archives_key,
        lambda out: [
            images.save_image_archives(client, binary_paths[b], names, out) for b, names in wanted.items()
        ],
    )
    name = image_name(version)
    inputs = cache_key(archives_key, keys["rootfs"], keys["crictl"], _source(assemble))
    run_image_stage(
        times,
        "assemble",
        lambda: assemble.find_image(client, name, inputs),
        lambda: assemble.assemble(
            client,
            base=base,
            name=name,
            version_tag=version.tag,
            inputs=inputs,
            node_binaries={n: bins["kubernetes"] / n for n in binaries.NODE_BINARIES}
            | {"crictl": bins["crictl"] / "crictl"},
            archives=sorted(archives_dir.glob("*.tar")),
            expected_images=[n for names in wanted.values() for n in names],
        ),
    )
    log(times.report())
    log(f"image {name}: {client.images.get(name).attrs['Size'] / 1e6:.0f} MB")
    return name
