"""Build commands (go, debootstrap, tar) run to their end, or ended with all their children.

Each command gets a session of its own, so Ctrl-C in a terminal reaches only this process;
when the build is interrupted (KeyboardInterrupt, also raised on SIGTERM by
harness.interrupts), the whole session gets SIGTERM (debootstrap unmounts what it mounted on
it), then SIGKILL. Output goes to temporary files, which the step's heartbeat status reads
while the command runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, Any

from harness.interrupts import signals_held
from harness.nodeimage.progress import doing

GRACE = 10.0  # seconds between SIGTERM and SIGKILL for an interrupted command


def _text(file: IO[bytes]) -> str:
    return os.pread(file.fileno(), os.fstat(file.fileno()).st_size, 0).decode(errors="replace")


def run(
    cmd: Sequence[str], *, status: Callable[[str, str], str] | None = None, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """Run `cmd`; `status(stdout, stderr)` describes its progress so far for the heartbeat."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True, **popen)
        try:
            with doing(lambda: status(_text(out), _text(err))) if status else contextlib.nullcontext():
                code = proc.wait()
        except BaseException:
            with signals_held(f"stopping {cmd[0]}"):
                end(proc)
            raise
        return subprocess.CompletedProcess(list(cmd), code, _text(out), _text(err))


def end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's session, SIGKILL to what is left of it after GRACE seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=GRACE)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
