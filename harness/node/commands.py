"""The outcome of one command run inside a node, and the error a failed one raises."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError

# coreutils `timeout` exits with this status when it had to stop the command.
TIMEOUT_EXIT_CODE = 124
_STDERR_TAIL_LINES = 20


class NodeCommandError(HarnessError):
    """A command inside a node failed; the message names the node, the command and its stderr."""

    def __init__(self, result: ExecResult) -> None:
        super().__init__(result.summary())
        self.result = result


@dataclass(frozen=True)
class ExecResult:
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    node: str = ""
    # The deadline the command ran under, in seconds (None in records made without one).
    timeout: float | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def timed_out(self) -> bool:
        return self.timeout is not None and self.exit_code == TIMEOUT_EXIT_CODE

    def check(self) -> ExecResult:
        """Return self when the command succeeded, else raise NodeCommandError."""
        if not self.ok:
            raise NodeCommandError(self)
        return self

    def summary(self) -> str:
        where = f"on node {self.node}" if self.node else "on the node"
        command = " ".join(self.argv)
        outcome = f"timed out after {self.timeout:g}s" if self.timed_out else f"exited with {self.exit_code}"
        tail = "\n".join(self.stderr.rstrip().splitlines()[-_STDERR_TAIL_LINES:])
        return f"`{command}` {where} {outcome}" + (f"; stderr:\n{tail}" if tail else "")
