"""How commands and files reach one node: the only place that knows what a node is made of.

A kind node is a docker container, reached through the docker SDK (exec and archive copies,
never the docker CLI). Everything above (files, systemd units, the kubelet, crictl) goes
through a Transport, so a node reached another way (ssh to a real machine) needs only
another Transport.
"""

from __future__ import annotations

import io
import tarfile
import time
from typing import Any, Protocol

from docker.errors import NotFound
from docker.models.containers import Container
from docker.utils.socket import consume_socket_output, demux_adaptor, frames_iter

from harness.errors import HarnessError


class NodeFileNotFound(HarnessError, FileNotFoundError):
    """A path inside a node does not exist."""


class Transport(Protocol):
    @property
    def name(self) -> str:
        """The node's name (the Kubernetes node name)."""
        ...

    def exec(self, argv: list[str]) -> tuple[int, bytes, bytes]:
        """Run argv (no shell) as root on the node: exit code, stdout, stderr."""
        ...

    def put(self, directory: str, name: str, data: bytes, mode: int) -> None:
        """Create `directory/name` owned by root with `mode` (NodeFileNotFound: no such directory)."""
        ...

    def gone(self) -> bool:
        """The node no longer exists (its cluster was deleted): nothing on it is left to restore."""
        ...


# Every command first waits for one line on its stdin, sent only once docker has answered the
# exec's start request; it then runs with /dev/null as its stdin. docker-py's exec_run reads an
# exec's output from the raw socket, past the buffered reader that parsed the answer's headers:
# output that arrived before those headers were read (a client held up for a moment, as on a busy
# CI machine) is lost without a trace, exit code 0 and empty stdout (docker/docker-py#2042, #3332,
# both open). Gated, no output can arrive before the headers are read.
STDIN_GATE = ("sh", "-c", 'read -r _ && exec "$@" </dev/null', "sh")


class DockerTransport:
    """A node that is a docker container on this host (kind's nodes)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def __repr__(self) -> str:
        return f"DockerTransport({self.container.name})"

    @property
    def name(self) -> str:
        return self.container.name

    def exec(self, argv: list[str]) -> tuple[int, bytes, bytes]:
        api = self.container.client.api
        exec_id = api.exec_create(self.container.id, [*STDIN_GATE, *argv], stdin=True)["Id"]
        connection = api.exec_start(exec_id, socket=True)
        try:
            stdout, stderr = _open_gate_and_read(connection)
        finally:
            _close(connection)
        exit_code = api.exec_inspect(exec_id)["ExitCode"]
        if exit_code is None:  # docker sets it before it ends the output: not expected
            raise HarnessError(f"docker gave no exit code for {argv} on {self.name}")
        return exit_code, stdout, stderr

    def put(self, directory: str, name: str, data: bytes, mode: int) -> None:
        try:
            copied = self.container.put_archive(directory, _tar_of(name, data, mode))
        except NotFound as error:
            raise NodeFileNotFound(f"{self.name}:{directory} does not exist") from error
        if not copied:
            raise HarnessError(f"docker could not copy a file into {self.name}:{directory}")

    def gone(self) -> bool:
        try:
            self.container.reload()
        except NotFound:
            return True
        return False


def _open_gate_and_read(connection: Any) -> tuple[bytes, bytes]:
    """Send the gate line and read the command's stdout and stderr to the end (each read waits in
    poll(), as in exec_run; the commands Shell runs are bounded by their own `timeout`)."""
    # On a unix socket docker-py hands back a read-only SocketIO; its socket is `_sock` (docker-py's
    # own _disable_socket_timeout reaches for it the same way).
    getattr(connection, "_sock", connection).sendall(b"\n")
    frames = (demux_adaptor(*frame) for frame in frames_iter(connection, tty=False))
    stdout, stderr = consume_socket_output(frames, demux=True)
    return stdout or b"", stderr or b""


def _close(connection: Any) -> None:
    """Close the HTTP response docker-py keeps on the connection, which closes the socket too
    (closing only the socket object leaves its file descriptor open until the garbage collector
    breaks their cycle), or else the connection alone."""
    response = getattr(connection, "_response", None)
    if response is not None:
        response.close()
    else:
        connection.close()


def _tar_of(name: str, data: bytes, mode: int) -> bytes:
    """A one-file tar archive owned by root, as docker's put_archive takes it."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = int(time.time())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
