"""Container images for what kubeadm runs as static pods and what containerd runs as sandbox.

kind never pulls: kubeadm's preflight phase is skipped and every image uses
IfNotPresent, so each image a cluster starts must already be in the node's containerd
under its exact registry.k8s.io name. The names come from the freshly built kubeadm
(`kubeadm config images list`) and from kind's containerd config (the sandbox image).
Each image is FROM scratch with one static binary, which is all these components need.

Those names exist only inside the saved archives: in the host's Docker the image carries a
tag of the build's own namespace, so an image of the user's under a registry.k8s.io name is
never retagged or removed.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from harness.nodeimage.binaries import BuildError
from harness.nodeimage.progress import doing

# Images kubeadm lists that an offline cluster does without: the offline kind config
# sets kubeProxyMode: none and skips the CoreDNS addon (no test needs Services or DNS).
NOT_BUILT = ("kube-proxy", "coredns")


def kubeadm_images(kubeadm: Path, version_tag: str) -> list[str]:
    proc = subprocess.run(
        [str(kubeadm), "config", "images", "list", "--kubernetes-version", version_tag],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BuildError(f"kubeadm config images list failed: {proc.stderr.strip()}")
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def sandbox_image(containerd_config: str) -> str:
    match = re.search(r'sandbox_image\s*=\s*"([^"]+)"', containerd_config)
    if not match:
        raise BuildError("kind's containerd config names no sandbox_image")
    return match.group(1)


def component(image: str) -> str:
    """registry.k8s.io/kube-apiserver:v1.34.4 -> kube-apiserver."""
    return image.rsplit("/", 1)[-1].split(":", 1)[0]


def wanted_images(kubeadm_list: list[str], sandbox: str) -> dict[str, list[str]]:
    """Binary name -> the image names it must be preloaded under."""
    wanted: dict[str, list[str]] = {}
    for image in [*kubeadm_list, sandbox]:
        name = component(image)
        if name in NOT_BUILT:
            continue
        wanted.setdefault(name, [])
        if image not in wanted[name]:
            wanted[name].append(image)
    return wanted


def _context(binary: Path) -> io.BytesIO:
    dockerfile = (
        "FROM scratch\n"
        f"COPY {binary.name} /usr/local/bin/{binary.name}\n"
        "ENV PATH=/usr/local/bin:/usr/bin:/bin\n"
        f'ENTRYPOINT ["/usr/local/bin/{binary.name}"]\n'
    ).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(binary, arcname=binary.name)
    buf.seek(0)
    return buf


def save_image_archives(
    client: docker.DockerClient, binary: Path, names: list[str], out_dir: Path, scratch: str
) -> list[Path]:
    """Build a one-binary image tagged `scratch:<binary>-<random>` and save it once per name (an
    archive carries one name); the scratch tag is removed after, and the image with it unless
    something else names it. The tag is random, not this process's pid: builds in containers
    that share one Docker daemon can have the same pid."""
    tag = f"{scratch}:{binary.name}-{secrets.token_hex(6)}"
    with doing(f"docker build {tag}"):
        client.images.build(fileobj=_context(binary), custom_context=True, pull=False, rm=True, tag=tag)
    archives = []
    try:
        for name in names:
            archive = out_dir / (re.sub(r"[^\w.-]+", "_", name) + ".tar")
            saved = archive.with_suffix(".saved")
            with doing(f"docker save {name}"), saved.open("wb") as out:
                for chunk in client.api.get_image(tag):
                    out.write(chunk)
            rename_archive(saved, archive, name)
            saved.unlink()
            archives.append(archive)
    finally:
        client.images.remove(tag)  # only this tag: no force, so no other name goes with it
    return archives


def rename_archive(saved: Path, archive: Path, name: str) -> None:
    """Copy a `docker save` archive of one image, naming that image `name` wherever the archive
    names it: manifest.json and repositories (Docker's format), and index.json (the OCI layout
    that Docker 25 and later write beside them). containerd's importer reads index.json when
    there is one and then ignores manifest.json, so a name left there would be the scratch tag."""
    with tarfile.open(saved) as src, tarfile.open(archive, "w") as dst:
        for member in src:
            data = src.extractfile(member) if member.isfile() else None
            if data is not None and member.name in _NAMED_IN:
                content = json.dumps(_NAMED_IN[member.name](json.load(data), name)).encode()
                data, member.size = io.BytesIO(content), len(content)
            dst.addfile(member, data)


def _manifest(manifest: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [{**entry, "RepoTags": [name]} for entry in manifest]


def _repositories(repositories: dict[str, dict[str, str]], name: str) -> dict[str, dict[str, str]]:
    repository, tag = name.rsplit(":", 1)
    layers = [layer for tags in repositories.values() for layer in tags.values()]
    if not layers:
        raise BuildError(
            f"docker save wrote an archive for {name} whose `repositories` names no image "
            f"({json.dumps(repositories)}): was the scratch tag removed meanwhile? build again"
        )
    return {repository: {tag: layers[0]}}


# The annotations by which containerd (io.containerd.image.name, the full name) and OCI tools
# (org.opencontainers.image.ref.name, the tag, as Docker writes it) name an image of index.json.
CONTAINERD_NAME = "io.containerd.image.name"
OCI_REF_NAME = "org.opencontainers.image.ref.name"


def _index(index: dict[str, Any], name: str) -> dict[str, Any]:
    manifests = index.get("manifests") or []
    if not manifests:
        raise BuildError(f"docker save wrote an archive for {name} whose index.json lists no image")
    renamed, seen = [], set()
    for entry in manifests:
        if entry.get("digest") in seen:  # one image saved under several of its tags
            continue
        seen.add(entry.get("digest"))
        annotations = {**(entry.get("annotations") or {}), CONTAINERD_NAME: name}
        annotations[OCI_REF_NAME] = name.rsplit(":", 1)[1]
        renamed.append({**entry, "annotations": annotations})
    return {**index, "manifests": renamed}


_NAMED_IN: dict[str, Callable[[Any, str], object]] = {
    "manifest.json": _manifest,
    "repositories": _repositories,
    "index.json": _index,
}
