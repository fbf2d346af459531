"""Assemble the node image the way kind's `build node-image` does, without a registry.

kind's buildImage runs its base image with `sleep infinity`, copies kubeadm, kubelet and
kubectl to /usr/bin, writes /kind/version, imports image archives into containerd's
k8s.io namespace with the pinned label, and `docker commit`s with kind's entrypoint. It
also fetches every image that is not a kube-* tarball from a registry, which cannot
work here; this module imports our own archives instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

import docker
from docker.models.containers import Container
from docker.models.images import Image

from harness.dockerclient import image_exists
from harness.node.transport import DockerTransport
from harness.nodeimage.binaries import BuildError
from harness.nodeimage.progress import doing
from harness.nodeimage.standins import LABEL_STAND_INS, StandIn

ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]'
LABEL_VERSION = "static-pod-harness.k8s-version"
LABEL_INPUTS = "static-pod-harness.inputs"
# On build containers: the process that builds, so that one left by a killed build can be told
# from one a build is using right now.
LABEL_BUILDER_PID = "static-pod-harness.builder-pid"
IMPORT_DIR = "/kind/images"


def base_image(client: docker.DockerClient, rootfs_tar: Path, name: str) -> None:
    """docker import the rootfs, then set what `import --change` cannot (STOPSIGNAL on 20.10)."""
    imported = name + "-import"
    size = rootfs_tar.stat().st_size / 1e6
    try:
        with doing(f"docker import of {rootfs_tar.name} ({size:.0f} MB) as {imported}"):
            client.api.import_image_from_file(str(rootfs_tar), repository=imported)
        dockerfile = (
            f"FROM {imported}\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT {ENTRYPOINT}\n"
        ).encode()
        with doing(f"docker build {name}"):
            client.images.build(fileobj=io.BytesIO(dockerfile), tag=name, pull=False, rm=True)
    finally:
        if image_exists(client, imported):
            client.images.remove(imported)


def find_image(client: docker.DockerClient, name: str, inputs: str) -> bool:
    """Is `name` an image this builder made from the same inputs?"""
    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return image.labels.get(LABEL_INPUTS) == inputs


def _tar(files: Iterable[tuple[str, bytes | Path, int]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, content, mode in files:
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _run(container: Container, script: str) -> str:
    """The script's stdout; its stdout and stderr in the error when it fails."""
    code, stdout, stderr = DockerTransport(container).exec(["bash", "-euo", "pipefail", "-c", script])
    if code != 0:
        output = (stdout + stderr).decode(errors="replace")
        raise BuildError(
            f"in the build container, `{script.strip()}` failed ({code}): {output.strip()[-1500:]}"
        )
    return stdout.decode(errors="replace")


# kind's base Dockerfile: the spec every container starts from, made by the node's own containerd's
# ctr (so it is made here, once containerd is in the image), with kind's hook that mounts product files.
CRI_BASE_SPEC = """ctr oci spec \\
  | jq '.hooks.createContainer[.hooks.createContainer | length] |=
        . + {"path": "/kind/bin/mount-product-files.sh"}' \\
  | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json"""


def assemble(
    client: docker.DockerClient,
    *,
    base: str,
    name: str,
    version_tag: str,
    inputs: str,
    node_binaries: dict[str, Path],  # where on the node each binary goes, and the binary
    archives: list[Path],
    expected_images: list[str],
    stand_ins: list[StandIn],
) -> str:
    """Make image `name`; it is tagged only after every expected image is in containerd, and
    only where `name` is free or names an image a build made (never a user's image). It is
    labelled with the stand-ins its binaries were built with (harness.nodeimage.standins)."""
    _previous(client, name)  # before the work: one line, nothing made
    container = client.containers.run(
        base,
        ["infinity"],
        entrypoint="sleep",
        detach=True,
        security_opt=["seccomp=unconfined"],
        labels={LABEL_INPUTS: "build", LABEL_BUILDER_PID: str(os.getpid())},
    )
    try:
        files = [(where, path, 0o755) for where, path in node_binaries.items()]
        files.append(("/kind/version", version_tag.encode(), 0o644))
        files += [(f"{IMPORT_DIR}/{a.name}", a, 0o644) for a in archives]
        with doing(
            f"copying {len(archives)} image archives and the node's binaries into the build container"
        ):
            container.put_archive("/", _tar(files))
        _run(container, CRI_BASE_SPEC)
        _run(
            container,
            "nohup containerd >/var/log/containerd-build.log 2>&1 &\n"
            "for i in $(seq 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done\n"
            "ctr version >/dev/null",
        )
        for number, archive in enumerate(archives, 1):
            with doing(
                f"importing image archive {number} of {len(archives)} into containerd ({archive.name})"
            ):
                _run(
                    container,
                    "ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned "
                    f"--all-platforms --no-unpack --digests {IMPORT_DIR}/{archive.name}",
                )
        present = set(_run(container, "ctr --namespace=k8s.io images list -q").split())
        missing = [image for image in expected_images if image not in present]
        if missing:
            raise BuildError(f"containerd in the image lacks {missing} after import (has {sorted(present)})")
        _run(
            container,
            # `sleep` is PID 1 here and reaps nothing: wait for containerd to be a zombie.
            "pkill containerd; while ps -C containerd -o stat= | grep -qv Z; do sleep 0.1; done\n"
            f"rm -rf {IMPORT_DIR}",
        )
        container.stop(timeout=1)
        with doing("docker commit of the node image"):
            image = container.commit(
                changes=[
                    f"ENTRYPOINT {ENTRYPOINT}",
                    "CMD []",
                    f"LABEL {LABEL_VERSION}={version_tag}",
                    f"LABEL {LABEL_INPUTS}={inputs}",
                    *([f"LABEL {LABEL_STAND_INS}={','.join(map(str, stand_ins))}"] if stand_ins else []),
                ]
            )
    finally:
        container.remove(force=True)
    try:
        previous = _previous(client, name)  # again: someone may have tagged an image meanwhile
    except BuildError:
        client.images.remove(image.id)  # ours, and named by nothing
        raise
    repository, tag = name.rsplit(":", 1)
    image.tag(repository, tag)
    if previous and previous != image.id:
        _remove_if_unused(client, previous)
    return name


def made_here(image: Image) -> bool:
    """Did a build of this builder make `image`? Each node image it commits carries LABEL_VERSION."""
    return LABEL_VERSION in (image.labels or {})


def _previous(client: docker.DockerClient, name: str) -> str | None:
    """The id of the image `name` names now, which the build will replace; an image that a build
    did not make is never replaced (its name is never moved)."""
    try:
        image = client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    if not made_here(image):
        raise BuildError(
            f"{name} names an image this builder did not make (no {LABEL_VERSION} label), so the "
            f"build leaves it alone: rename or remove it (docker rmi {name}) and build again"
        )
    return str(image.id)


def _remove_if_unused(client: docker.DockerClient, image_id: str) -> None:
    """The image this build replaced: ~1 GB that nothing names any more, unless a node still runs it.

    One that still has a name (someone tagged it) is kept: removing it by id would take that name
    too; so is one a build did not make.
    """
    image = client.images.get(image_id)
    if image.tags or not made_here(image):
        return
    # An image a running cluster's node still uses stays: docker refuses, and so be it.
    with contextlib.suppress(docker.errors.APIError):
        client.images.remove(image_id)
