"""A node's kubelet replaced in place, the way an operator upgrades a worker.

kubeadm's "Upgrading Linux nodes" task: `kubeadm upgrade node` (the node's kubelet
configuration from the cluster), then the new kubelet binary, then `systemctl restart
kubelet`. The binary is renamed into place while the old kubelet still runs, so the node's
only disruption is the restart itself.
"""

from __future__ import annotations

import posixpath
import re

from harness.errors import HarnessError
from harness.node import Node

KUBELET_PATH = "/usr/bin/kubelet"
# Where the node keeps the kubelet it came with, so that it can be put back.
STASH_DIR = "/usr/local/lib/static-pod-harness"
# Seconds (scaled): `kubeadm upgrade node` reads the cluster's config and writes the kubelet's.
KUBEADM_UPGRADE_TIMEOUT = 180
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
    directory, name = posixpath.split(KUBELET_PATH)
    staging = f".{name}.new"
    node.put(directory, staging, binary, 0o755)
    node.move(posixpath.join(directory, staging), KUBELET_PATH)


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
