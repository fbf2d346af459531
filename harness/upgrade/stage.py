"""What a kubeadm upgrade to a version needs on a kind node that pulls nothing (SCOPE=cluster).

kinder (kubernetes/kubeadm's e2e tool) keeps the new kubeadm, kubelet and images in each node and
pre-loads the images into the runtime before `kubeadm upgrade apply`. Here: the new version's kubeadm
and kubelet come from the offline build's cache (harness.nodeimage.build.kubernetes_binaries, as
FROM's kubelet does), and the images kubeadm deploys from that version's node image: its containerd,
started in a throwaway container, exports them (`ctr images export`) as one archive that each node
of the cluster imports.
"""

from __future__ import annotations

import io
import platform
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker

from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.nodeimage.build import kubernetes_binaries
from harness.nodeimage.images import NOT_BUILT, kubeadm_images
from harness.versions import KubeVersion

EXPORTED = "/tmp/upgrade-images.tar"
# Architecture names as containerd's platforms spell them.
_PLATFORMS = {
    "x86_64": "linux/amd64",
    "amd64": "linux/amd64",
    "aarch64": "linux/arm64",
    "arm64": "linux/arm64",
}
_START_CONTAINERD = (
    "nohup containerd >/var/log/containerd-export.log 2>&1 &\n"
    "for i in $(seq 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done\n"
    "ctr version >/dev/null"
)


@dataclass(frozen=True)
class UpgradeInputs:
    """One hop's version, its kubeadm and kubelet, the images its kubeadm deploys, and their archive."""

    version: KubeVersion
    kubeadm: bytes
    kubelet: bytes
    images: dict[str, str]  # component (kube-apiserver, etcd, ...) -> image reference
    archive: bytes


def upgrade_inputs(version: KubeVersion, node_image: str) -> UpgradeInputs:
    binaries = kubernetes_binaries(version)
    # The offline node images carry no kube-proxy or CoreDNS (images.NOT_BUILT): kubeadm's addons keep
    # whatever the cluster ran; the static pods' images are the ones that must be there.
    refs = [
        ref for ref in kubeadm_images(binaries / "kubeadm", version.tag) if component_of(ref) not in NOT_BUILT
    ]
    return UpgradeInputs(
        version=version,
        kubeadm=(binaries / "kubeadm").read_bytes(),
        kubelet=(binaries / "kubelet").read_bytes(),
        images={component_of(ref): ref for ref in refs},
        archive=export_images(node_image, refs),
    )


def component_of(reference: str) -> str:
    """registry.k8s.io/kube-apiserver:v1.37.2 -> kube-apiserver; .../coredns/coredns:v1.12.1 -> coredns."""
    return reference.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]


def export_images(node_image: str, refs: list[str]) -> bytes:
    """`refs` as one archive from `node_image`'s containerd; one line when one of them is not there."""
    client = docker_client()
    where = f"node image {node_image}"
    platform_name = _PLATFORMS.get(platform.machine(), "linux/amd64")
    container = client.containers.run(
        node_image, ["infinity"], entrypoint="sleep", detach=True, security_opt=["seccomp=unconfined"]
    )
    try:
        _run(container, _START_CONTAINERD, where)
        present = set(_run(container, "ctr --namespace=k8s.io images list -q", where).split())
        missing = [ref for ref in refs if ref not in present]
        if missing:
            raise HarnessError(f"{where} lacks {', '.join(missing)}, which its kubeadm deploys: rebuild it")
        _run(
            container,
            f"ctr --namespace=k8s.io images export --platform {platform_name} {EXPORTED} {' '.join(refs)}",
            where,
        )
        stream, _ = container.get_archive(EXPORTED)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(Path(EXPORTED).name)
            if member is None:
                raise HarnessError(f"{where}: the exported image archive is not a file")
            return member.read()
    finally:
        container.remove(force=True)


def _run(container: docker.models.containers.Container, script: str, where: str) -> str:
    code, output = container.exec_run(["sh", "-c", script])
    text = output.decode(errors="replace")
    if code != 0:
        last = (text.strip().splitlines() or [f"exit code {code}"])[-1]
        raise HarnessError(f"{where}: `{script.splitlines()[-1]}` failed: {last}")
    return text
