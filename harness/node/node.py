"""One Kubernetes node, shaped like pytest-testinfra's Host: `run`, `file`, `service`, the kubelet, crictl.

It reaches the node only through its Transport (harness.node.transport), so nothing here or
below knows that a kind node is a docker container.
"""

from __future__ import annotations

from functools import cached_property

from harness.node.crictl import Crictl
from harness.node.files import NodeFile
from harness.node.kubelet import Kubelet
from harness.node.shell import Shell
from harness.node.systemd import Service
from harness.node.transport import NodeFileNotFound, Transport


class Node(Shell):
    """A node; its name is the Kubernetes node name, its role "control-plane" or "worker"."""

    def __init__(self, transport: Transport, role: str | None = None) -> None:
        super().__init__(transport)
        self.role = role

    def __repr__(self) -> str:
        return f"Node({self.name!r}, role={self.role!r})"

    def file(self, path: str) -> NodeFile:
        return NodeFile(self, path)

    def listdir(self, path: str) -> list[str]:
        """Names in a directory, dot-files included, sorted."""
        result = self.run("find", path, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\0", check=False)
        if "No such file or directory" in result.stderr:
            raise NodeFileNotFound(f"{self.name}:{path} does not exist")
        return sorted(name for name in result.check().stdout.split("\0") if name)

    def makedirs(self, path: str) -> None:
        self.run("mkdir", "-p", "--", path)

    def move(self, src: str, dst: str) -> None:
        """Rename src to dst (atomic within one filesystem, as the kubelet sees it)."""
        self.run("mv", "-f", "--", src, dst)

    def service(self, name: str) -> Service:
        return Service(self, name)

    @cached_property
    def kubelet(self) -> Kubelet:
        return Kubelet(self)

    @cached_property
    def crictl(self) -> Crictl:
        return Crictl(self)
