"""The node layer: one kind node container, driven through the docker SDK only."""

from harness.node.commands import ExecResult, NodeCommandError
from harness.node.crictl import ContainerStatus, Crictl, PodSandbox, parse_cri_time
from harness.node.files import NodeFile, NodeFileNotFound
from harness.node.kubelet import Kubelet, parse_go_duration
from harness.node.node import DEFAULT_COMMAND_TIMEOUT, Node
from harness.node.systemd import Service, UnitState

__all__ = [
    "DEFAULT_COMMAND_TIMEOUT",
    "ContainerStatus",
    "Crictl",
    "ExecResult",
    "Kubelet",
    "Node",
    "NodeCommandError",
    "NodeFile",
    "NodeFileNotFound",
    "PodSandbox",
    "Service",
    "UnitState",
    "parse_cri_time",
    "parse_go_duration",
]
