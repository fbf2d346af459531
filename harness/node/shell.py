"""Commands on one node, each under a deadline: the layer files, units, the kubelet and crictl use."""

from __future__ import annotations

from harness.node.commands import ExecResult, NodeCommandError
from harness.node.transport import Transport
from harness.waiting import scaled

# A command that hangs must not hang the test run: docker's exec API has no deadline of its own.
# Seconds, scaled like every other bound (harness.waiting).
DEFAULT_COMMAND_TIMEOUT = 60.0
# After asking a timed-out command to stop, `timeout` kills it this many seconds later.
_KILL_AFTER_SECONDS = "5"


class Shell:
    """Runs commands on one node through its transport; shaped like testinfra's `host.run`."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @property
    def name(self) -> str:
        return self.transport.name

    def run(self, *argv: str, check: bool = True, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> ExecResult:
        """Run argv (no shell) as root on the node, stopped after `timeout` seconds (scaled)."""
        limit = scaled(timeout)
        exit_code, stdout, stderr = self._exec(argv, limit)
        result = ExecResult(
            argv=tuple(argv),
            exit_code=exit_code,
            stdout=stdout.decode(errors="replace"),
            stderr=stderr.decode(errors="replace"),
            node=self.name,
            timeout=limit,
        )
        return result.check() if check else result

    def output_bytes(self, *argv: str, timeout: float = DEFAULT_COMMAND_TIMEOUT) -> bytes:
        """The stdout of a command that must succeed, byte for byte."""
        limit = scaled(timeout)
        exit_code, stdout, stderr = self._exec(argv, limit)
        if exit_code != 0:
            raise NodeCommandError(
                ExecResult(tuple(argv), exit_code, "", stderr.decode(errors="replace"), self.name, limit)
            )
        return stdout

    def put(self, directory: str, name: str, data: bytes, mode: int) -> None:
        self.transport.put(directory, name, data, mode)

    def gone(self) -> bool:
        return self.transport.gone()

    def _exec(self, argv: tuple[str, ...], timeout: float) -> tuple[int, bytes, bytes]:
        command = ["timeout", f"--kill-after={_KILL_AFTER_SECONDS}", f"{timeout:g}", *argv]
        return self.transport.exec(command)
