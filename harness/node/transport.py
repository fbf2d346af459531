"""How commands and files reach one node: the only place that knows what a node is made of.

A kind node is a docker container, reached through the docker SDK (exec and archive copies,
never the docker CLI). Everything above (files, systemd units, the kubelet, crictl) goes
through a Transport, so a node reached another way (ssh to a real machine) needs only
another Transport.
"""

from __future__ import annotations

import io
import struct
import tarfile
import time
from typing import Any, Protocol

from docker.errors import NotFound
from docker.models.containers import Container

from harness.errors import HarnessError
from harness.waiting import scaled


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
# Seconds (scaled) docker may take to send a command's whole output and end the stream: beyond any
# command's own bound (Shell stops a command after its `timeout`; the longest is kubeadm's 180 s)
# and any step of a node-image build, so that only a docker daemon that stopped answering reaches it.
EXEC_OUTPUT_TIMEOUT = 600.0
# A frame of docker's multiplexed output stream starts with its stream (1 stdout, 2 stderr), three
# zero bytes and the size of its payload, big-endian (Docker Engine API, "Stream format").
_FRAME_HEADER = struct.Struct(">BxxxL")
_STREAMS = (1, 2)


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
        limit = scaled(EXEC_OUTPUT_TIMEOUT)
        try:
            stdout, stderr = _open_gate_and_read(connection, limit)
        except TimeoutError:
            raise HarnessError(
                f"docker did not send all the output of `{' '.join(argv)}` on {self.name} within "
                f"{limit:g}s: is dockerd hung? (`docker info` answers when it is not)"
            ) from None
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


def _open_gate_and_read(connection: Any, limit: float) -> tuple[bytes, bytes]:
    """Send the gate line and read the command's stdout and stderr to the end of the stream; past
    `limit` seconds, TimeoutError. Read here, not with docker-py's frames_iter: that waits in poll()
    with no timeout before each read, so no socket timeout could bound it."""
    # On a unix socket docker-py hands back a read-only SocketIO; its socket is `_sock` (docker-py's
    # own _disable_socket_timeout reaches for it the same way).
    sock = getattr(connection, "_sock", connection)
    sock.sendall(b"\n")
    deadline = time.monotonic() + limit
    output = {stream: bytearray() for stream in _STREAMS}
    while header := _receive(sock, _FRAME_HEADER.size, deadline, may_end=True):
        stream, size = _FRAME_HEADER.unpack(header)
        if stream not in output:
            raise HarnessError(f"docker sent output of stream {stream}, not stdout or stderr")
        output[stream] += _receive(sock, size, deadline, may_end=False)
    return bytes(output[1]), bytes(output[2])


def _receive(sock: Any, size: int, deadline: float, *, may_end: bool) -> bytes:
    """`size` bytes from `sock` before `deadline` (TimeoutError), or b"" where the stream ends before
    the first of them and `may_end`."""
    data = bytearray()
    while len(data) < size:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(size - len(data))
        if not chunk:
            if may_end and not data:
                return b""
            raise HarnessError("docker's exec output stream ended in the middle of a frame")
        data += chunk
    return bytes(data)


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
