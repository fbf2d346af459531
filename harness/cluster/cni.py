"""Pod networking for clusters on the offline node image, with no CNI daemon.

The offline image has no kindnetd, so kind is told to skip its default CNI. Once the
nodes exist, each gets a CNI config for the reference plugins (ptp + host-local over the
node's podCIDR, portmap), and a route to every other node's podCIDR via that node's IP:
what kindnetd would do, done once, because nodes never move during a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.node import Node

CONFIG_PATH = "/etc/cni/net.d/10-static-pod-harness.conflist"


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


def configure(nodes: dict[str, Node], networks: list[NodeNetwork]) -> None:
    """Write each node's CNI config and its routes to the other nodes' pods."""
    for net in networks:
        node = nodes[net.name]
        for other in networks:
            if other.name != net.name:
                node.run("ip", "route", "replace", other.pod_cidr, "via", other.internal_ip)
        node.file(CONFIG_PATH).write_text(conflist(net.pod_cidr))
