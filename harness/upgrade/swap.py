"""A node's kubelet replaced in place, the way an operator upgrades a worker.

kubeadm's "Upgrading Linux nodes" task: `kubeadm upgrade node` (the node's kubelet
configuration from the cluster), then the new kubelet binary, then `systemctl restart
kubelet`. The binary is renamed into place while the old kubelet still runs, so the node's
only disruption is the restart itself.

SCOPE=cluster adds kubeadm's "Upgrading control plane nodes": the new kubeadm binary and the new
control-plane images put into each node first (a kind node pulls nothing: the images come from the
new version's node image, imported into the node's containerd), then `kubeadm upgrade apply vX` on
the control-plane node.
"""

from __future__ import annotations

import posixpath
import re
import time

from harness.cluster.cluster import Cluster
from harness.cluster.lifecycle import node_ready
from harness.errors import HarnessError
from harness.node import Node
from harness.staticpods.control_plane import control_plane_restored
from harness.versions import KubeVersion
from harness.waiting import watch_until

KUBELET_PATH = "/usr/bin/kubelet"
KUBEADM_PATH = "/usr/bin/kubeadm"
# Seconds (scaled): `kubeadm upgrade apply` replaces each control-plane static pod and waits for it
# (its own wait is 5 min per component), then uploads configs and upgrades the addons.
KUBEADM_APPLY_TIMEOUT = 1500
# Seconds (scaled): a few hundred MB of images imported into the node's containerd.
IMAGE_IMPORT_TIMEOUT = 600
# Where the node keeps the kubelet it came with, so that it can be put back.
STASH_DIR = "/usr/local/lib/static-pod-harness"
# Not under /tmp: a kind node's /tmp is a tmpfs, and Docker's put_archive writes beneath such a mount,
# where the node does not see it.
IMAGE_ARCHIVE = f"{STASH_DIR}/upgrade-images.tar"
# Seconds (scaled): `kubeadm upgrade node` reads the cluster's config and writes the kubelet's.
KUBEADM_UPGRADE_TIMEOUT = 180
# Seconds (scaled) from a kubelet restart until its node is Ready with the new kubelet.
NODE_READY_TIMEOUT = 180
_VERSION = re.compile(r"Kubernetes (v\d+\.\d+\.\d+\S*)")


def kubelet_version(node: Node) -> str:
    """The version the installed kubelet binary reports, e.g. v1.31.14."""
    output = node.run(KUBELET_PATH, "--version").stdout
    match = _VERSION.search(output)
    if not match:
        raise HarnessError(
            f"{node.name}: `kubelet --version` said {output.strip()!r}, not a Kubernetes version"
        )
    return match.group(1)


def stash_kubelet(node: Node) -> str:
    """Keep a copy of the node's own kubelet on the node; returns its path."""
    stashed = posixpath.join(STASH_DIR, f"kubelet-{kubelet_version(node)}")
    node.makedirs(STASH_DIR)
    node.run("cp", "-p", "--", KUBELET_PATH, stashed)
    return stashed


def put_kubelet(node: Node, binary: bytes) -> None:
    """Rename a new kubelet binary into place (the running kubelet keeps its old inode)."""
    _put_binary(node, KUBELET_PATH, binary)


def put_kubeadm(node: Node, binary: bytes) -> None:
    _put_binary(node, KUBEADM_PATH, binary)


def _put_binary(node: Node, path: str, binary: bytes) -> None:
    directory, name = posixpath.split(path)
    staging = f".{name}.new"
    node.put(directory, staging, binary, 0o755)
    node.move(posixpath.join(directory, staging), path)


def import_images(node: Node, archive: bytes) -> None:
    """An image archive (`ctr images export`) into the node's containerd, where the kubelet finds it."""
    directory, name = posixpath.split(IMAGE_ARCHIVE)
    node.makedirs(directory)
    node.put(directory, name, archive, 0o644)
    try:
        node.run(
            "ctr",
            "--namespace=k8s.io",
            "images",
            "import",
            "--digests",
            IMAGE_ARCHIVE,
            timeout=IMAGE_IMPORT_TIMEOUT,
        )
    finally:
        node.run("rm", "-f", "--", IMAGE_ARCHIVE)


def kubeadm_upgrade_apply(node: Node, version: KubeVersion) -> None:
    """`kubeadm upgrade apply -y vX` on the control-plane node: new manifests for etcd, kube-apiserver,
    kube-controller-manager and kube-scheduler, each waited for by kubeadm, then configs and addons.

    kind's own `kubeadm init` skips the preflight phase (its nodes fail checks a real host passes);
    the upgrade's preflight errors are shown as warnings the same way. A pre-release needs kubeadm's
    consent."""
    experimental = ["--allow-experimental-upgrades", "--allow-release-candidate-upgrades"]
    node.run(
        "kubeadm",
        "upgrade",
        "apply",
        "--yes",
        "--ignore-preflight-errors=all",
        *(experimental if version.prerelease else []),
        version.tag,
        timeout=KUBEADM_APPLY_TIMEOUT,
    )


def install_stashed(node: Node, stashed: str) -> None:
    node.run("cp", "-p", "--", stashed, f"{KUBELET_PATH}.new")
    node.move(f"{KUBELET_PATH}.new", KUBELET_PATH)


def kubeadm_upgrade_node(node: Node, *, cgroup_v1: bool) -> None:
    """`kubeadm upgrade node`: the kubelet config the cluster's kubeadm wants for this version.

    On a cgroup v1 host kubeadm 1.35+ refuses to go on unless told to ("To explicitly enable
    cgroups v1 support ... You must also explicitly skip this validation"), as kind's own
    kubeadm init and join do by skipping preflight; the kubelet config already says
    failCgroupV1: false there (harness.cluster.kindconfig)."""
    skip = ["--ignore-preflight-errors=SystemVerification"] if cgroup_v1 else []
    node.run("kubeadm", "upgrade", "node", *skip, timeout=KUBEADM_UPGRADE_TIMEOUT)


def restart_until_ready(cluster: Cluster, node: Node, version: str) -> float:
    """Restart the node's kubelet; seconds until the node is Ready with a kubelet of `version` (v1.34.11).

    On the control-plane node a kubelet of another version may recreate the control plane's pods
    (another config.hash), the API server's too: the API is asked only once they hold still (a new
    API server answers 403 until its authorizer synced)."""
    started = time.monotonic()
    if node.name == cluster.control_plane.name:
        with control_plane_restored(cluster):
            node.kubelet.restart()
    else:
        node.kubelet.restart()
    watch_until(
        cluster.core.list_node,
        lambda n: n is not None and node_ready(n) and n.status.node_info.kubelet_version == version,
        timeout=NODE_READY_TIMEOUT,
        expected=f"node {node.name} Ready with kubelet {version}",
        field_selector=f"metadata.name={node.name}",
    )
    return time.monotonic() - started
