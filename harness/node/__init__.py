"""The node layer: one Kubernetes node reached through a transport (docker exec for kind)."""

from harness.node.commands import ExecResult, NodeCommandError
from harness.node.crictl import ContainerStatus, Crictl, PodSandbox, parse_cri_time
from harness.node.files import NodeFile
from harness.node.kubelet import Kubelet, parse_go_duration
from harness.node.node import Node
from harness.node.shell import DEFAULT_COMMAND_TIMEOUT, Shell
from harness.node.systemd import Service, UnitState
from harness.node.transport import DockerTransport, NodeFileNotFound, Transport

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "ContainerStatus",
    "Crictl",
    "DockerTransport",
    "ExecResult",
    "Kubelet",
    "Node",
    "NodeCommandError",
    "NodeFile",
    "NodeFileNotFound",
    "PodSandbox",
    "Service",
    "Shell",
    "Transport",
    "UnitState",
    "parse_cri_time",
    "parse_go_duration",
]
