"""One kind node: a docker container running systemd, containerd and the kubelet.

Everything goes through the docker SDK (exec and archive copies), never the docker CLI. The shape
follows pytest-testinfra's Host: `run`, `file`, `service`, plus the kubelet and crictl.
"""

from __future__ import annotations

from functools import cached_property

from docker.models.containers import Container

from harness.node.commands import ExecResult, NodeCommandError
from harness.node.crictl import Crictl
from harness.node.files import NodeFile, NodeFileNotFound
from harness.node.kubelet import Kubelet
from harness.node.systemd import Service

# kind labels every node container with its role.
ROLE_LABEL = "io.x-k8s.kind.role"
# A command that hangs must not hang the test run: docker's exec API has no deadline of its own.
DEFAULT_COMMAND_TIMEOUT = 60.0
# After asking a timed-out command to stop, `timeout` kills it this many seconds later.
_KILL_AFTER_SECONDS = "5"


class Node:
    """A kind node container; its name is the Kubernetes node name."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def __repr__(self) -> str:
        return f"Node({self.name!r}, role={self.role!r})"

    @property
    def name(self) -> str:
        return self.container.name

    @property
    def role(self) -> str | None:
        """The role kind labelled the container with: "control-plane" or "worker"."""
        return self.container.labels.get(ROLE_LABEL)

    def run(
        self, *argv: str, check: bool = True, timeout: float | None = DEFAULT_COMMAND_TIMEOUT
    ) -> ExecResult:
        """Run argv (no shell) as root in the node; `timeout=None` lets it run unbounded."""
        exit_code, stdout, stderr = self._exec(argv, timeout)
        result = ExecResult(
            argv=tuple(argv),
            exit_code=exit_code,
            stdout=stdout.decode(errors="replace"),
            stderr=stderr.decode(errors="replace"),
            node=self.name,
            timeout=timeout,
        )
        return result.check() if check else result

    def output_bytes(self, *argv: str, timeout: float | None = DEFAULT_COMMAND_TIMEOUT) -> bytes:
        """The stdout of a command that must succeed, byte for byte."""
        exit_code, stdout, stderr = self._exec(argv, timeout)
        if exit_code != 0:
            raise NodeCommandError(
                ExecResult(tuple(argv), exit_code, "", stderr.decode(errors="replace"), self.name, timeout)
            )
        return stdout

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

    def _exec(self, argv: tuple[str, ...], timeout: float | None) -> tuple[int, bytes, bytes]:
        command = list(argv)
        if timeout is not None:
            command = ["timeout", f"--kill-after={_KILL_AFTER_SECONDS}", f"{timeout:g}", *command]
        exit_code, (stdout, stderr) = self.container.exec_run(command, demux=True)
        return exit_code, stdout or b"", stderr or b""
