"""Build commands (go, debootstrap, tar) run to their end, or ended with all their children.

Each command gets a session of its own, so Ctrl-C in a terminal reaches only this process;
when the build is interrupted (KeyboardInterrupt, also raised on SIGTERM and SIGHUP by
harness.interrupts), the whole session gets SIGTERM (debootstrap unmounts what it mounted on
it), then SIGKILL. A harness that dies without unwinding (SIGKILL, or a SIGHUP where no
handler is installed) cannot do that: the command gets SIGTERM from the kernel then
(PR_SET_PDEATHSIG), so it never outlives the harness in a session no terminal reaches.
Output goes to temporary files, which the step's heartbeat status reads while the command runs.
A command that runs past COMMAND_TIMEOUT (scaled) is ended the same way, and the build stops with
one line: the command, its bound, the step its status last named, what to look at.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, Any

from harness.errors import HarnessError
from harness.interrupts import signals_held
from harness.nodeimage.progress import doing
from harness.waiting import scaled

GRACE = 10.0  # seconds between SIGTERM and SIGKILL for an interrupted command
# Seconds (scaled) a build command may run: far beyond what debootstrap, a go build of the node's
# binaries or the rootfs's tar take on a slow machine, so that only one that hangs (a mirror or a
# module proxy that stopped answering, a stuck mount) reaches it.
COMMAND_TIMEOUT = 3600.0
PR_SET_PDEATHSIG = 1  # include/uapi/linux/prctl.h


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, loaded here, before any fork (None where there is none: not Linux)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def _dies_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel send the command SIGTERM when this process dies.

    It fires when the thread that started the command ends, so commands are started from
    the thread that waits for them (run() does). It does as little as it can between fork and
    exec: one libc call, and a check that the parent did not die before it."""
    prctl, parent = _PRCTL, os.getpid()
    if prctl is None:
        return None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # died before the call: no signal would come
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _text(file: IO[bytes]) -> str:
    return os.pread(file.fileno(), os.fstat(file.fileno()).st_size, 0).decode(errors="replace")


def run(
    cmd: Sequence[str], *, status: Callable[[str, str], str] | None = None, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """Run `cmd`; `status(stdout, stderr)` describes its progress so far for the heartbeat."""
    limit = scaled(COMMAND_TIMEOUT)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=err,
            start_new_session=True,
            preexec_fn=_dies_with_parent(),  # one libc call, see _dies_with_parent
            **popen,
        )
        try:
            with doing(lambda: status(_text(out), _text(err))) if status else contextlib.nullcontext():
                code = proc.wait(timeout=limit)
        except BaseException as stopped:
            with signals_held(f"stopping {cmd[0]}"):
                end(proc)
            if isinstance(stopped, subprocess.TimeoutExpired):
                at = f", at: {status(_text(out), _text(err))}" if status else ""
                raise HarnessError(
                    f"`{os.path.basename(cmd[0])}` was still running after {limit:g}s (its bound) and was "
                    f"ended{at}; see whether what it fetches or writes is reachable (network, mirror, "
                    "disk), then build again"
                ) from None
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
