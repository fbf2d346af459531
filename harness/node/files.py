"""Files inside a node, written so that the kubelet never reads half a file."""

from __future__ import annotations

import io
import posixpath
import secrets
import tarfile
import time
from typing import TYPE_CHECKING

from docker.errors import NotFound

from harness.errors import HarnessError
from harness.node.commands import NodeCommandError

if TYPE_CHECKING:
    from harness.node.node import Node

_MISSING = "No such file or directory"


class NodeFileNotFound(HarnessError, FileNotFoundError):
    """A path inside a node does not exist."""


class NodeFile:
    """One path inside a node, shaped like testinfra's File."""

    def __init__(self, node: Node, path: str) -> None:
        if not posixpath.isabs(path):
            raise HarnessError(f"node paths must be absolute, not {path!r}")
        self.node = node
        self.path = posixpath.normpath(path)

    def __repr__(self) -> str:
        return f"NodeFile({self.node.name}:{self.path})"

    @property
    def exists(self) -> bool:
        return self.node.run("test", "-e", self.path, check=False).ok

    @property
    def is_dir(self) -> bool:
        return self.node.run("test", "-d", self.path, check=False).ok

    @property
    def mode(self) -> int:
        """Permission bits (with setuid, setgid and sticky), e.g. 0o644."""
        result = self.node.run("stat", "-c", "%a", "--", self.path, check=False)
        self._raise_if_missing(result.stderr)
        return int(result.check().stdout.strip(), 8)

    def read_bytes(self) -> bytes:
        """The content as the node sees it (`cat`, so files under /proc read right too)."""
        try:
            return self.node.output_bytes("cat", "--", self.path)
        except NodeCommandError as error:
            self._raise_if_missing(error.result.stderr)
            raise

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes, mode: int = 0o644) -> None:
        """Replace the file in one rename, so that the kubelet sees the old content or the new.

        The content is first copied in as a dot-file next to the target: the kubelet's file source
        skips names starting with "." both when listing the directory and on inotify events
        (pkg/kubelet/config/file.go, file_linux.go). `mv` within one directory is a rename(2),
        which the kubelet sees as the target being created whole.
        """
        directory, name = posixpath.split(self.path)
        staging = posixpath.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            copied = self.node.container.put_archive(
                directory, _tar_of(posixpath.basename(staging), data, mode)
            )
        except NotFound as error:
            raise NodeFileNotFound(f"{self.node.name}:{directory} does not exist") from error
        if not copied:
            raise HarnessError(f"docker could not copy a file into {self.node.name}:{directory}")
        moved = self.node.run("mv", "-f", "--", staging, self.path, check=False)
        if not moved.ok:
            self.node.run("rm", "-f", "--", staging, check=False)
            moved.check()

    def write_text(self, text: str, mode: int = 0o644, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding), mode)

    def remove(self, missing_ok: bool = False) -> None:
        """Remove the file (not a directory); like Path.unlink, a missing file is an error by default."""
        result = self.node.run("rm", *(["-f"] if missing_ok else []), "--", self.path, check=False)
        self._raise_if_missing(result.stderr)
        result.check()

    def _raise_if_missing(self, stderr: str) -> None:
        if _MISSING in stderr:
            raise NodeFileNotFound(f"{self.node.name}:{self.path} does not exist")


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
