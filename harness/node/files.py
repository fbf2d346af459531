"""Files inside a node, written so that the kubelet never reads half a file."""

from __future__ import annotations

import posixpath
import secrets

from harness.errors import HarnessError
from harness.node.commands import NodeCommandError
from harness.node.shell import Shell
from harness.node.transport import NodeFileNotFound

_MISSING = "No such file or directory"


class NodeFile:
    """One path inside a node, shaped like testinfra's File."""

    def __init__(self, node: Shell, path: str) -> None:
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
        self.node.put(directory, posixpath.basename(staging), data, mode)
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
