"""Pod networking for clusters on the offline node image, with no CNI daemon.

The offline image has no kindnetd, so kind is told to skip its default CNI. Instead each node
has, from the moment its container starts, a CNI config for the reference plugins (ptp +
host-local, portmap) over a pod range of its own: the config's i-th node gets the i-th /24 of
the cluster's podSubnet. The config files live in the harness's cache and are mounted into the
nodes (kind's extraMounts), so containerd reports its network ready at once, and a node is
Ready as soon as its kubelet has registered it: no wait for kube-controller-manager to allocate
podCIDRs, which it did 4 s after `kind create` returned (measured, issue 12). That allocation is
switched off, so that no Node object names a range its pods do not use.

Once the cluster exists, each node gets a route to every other node's range via that node's
IP: what kindnetd would do, done once, because nodes never move during a run.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.node import Node
from harness.paths import cache_dir

CONFIG_PATH = "/etc/cni/net.d/10-static-pod-harness.conflist"
# kind's default podSubnet (sigs.k8s.io/kind pkg/apis/config/v1alpha4/default.go)
KIND_POD_SUBNET = "10.244.0.0/16"
NO_NODE_CIDRS_PATCH = (
    'kind: ClusterConfiguration\ncontrollerManager:\n  extraArgs:\n    allocate-node-cidrs: "false"\n'
)


@dataclass(frozen=True)
class NodeNetwork:
    name: str
    internal_ip: str
    pod_cidr: str


def conflist(pod_cidr: str) -> str:
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": "static-pod-harness",
            "plugins": [
                {
                    "type": "ptp",
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": pod_cidr}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def pod_ranges(pod_subnet: str, count: int) -> list[str]:
    """The first `count` /24 ranges of `pod_subnet`, one a node."""
    ranges = ipaddress.ip_network(pod_subnet).subnets(new_prefix=24)
    return [str(next(ranges)) for _ in range(count)]


def config_file(pod_cidr: str) -> Path:
    """The CNI config of a node whose pods take `pod_cidr`, in the cache (written when it differs).

    Parallel workers may write the same file at once: each writes a file of its own and renames
    it into place, and a running node keeps the file it has mounted."""
    path = cache_dir() / "cni" / f"{pod_cidr.replace('/', '_')}.conflist"
    text = conflist(pod_cidr)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)
    return path


def mount_configs(nodes: list[dict[str, Any]], pod_subnet: str) -> list[dict[str, Any]]:
    """The kind config's nodes, each with its CNI config mounted read-only (the input is not changed)."""
    return [
        {
            **node,
            "extraMounts": [
                *node.get("extraMounts", []),
                {"hostPath": str(config_file(cidr)), "containerPath": CONFIG_PATH, "readOnly": True},
            ],
        }
        for node, cidr in zip(nodes, pod_ranges(pod_subnet, len(nodes)), strict=True)
    ]


def pod_cidr(node: Node) -> str:
    """The range a node's pods take, from the CNI config it runs with."""
    config = json.loads(node.file(CONFIG_PATH).read_text())
    return config["plugins"][0]["ipam"]["ranges"][0][0]["subnet"]


def route(nodes: dict[str, Node], networks: list[NodeNetwork]) -> None:
    """Give each node a route to every other node's pods."""
    for net in networks:
        for other in networks:
            if other.name != net.name:
                nodes[net.name].run("ip", "route", "replace", other.pod_cidr, "via", other.internal_ip)
