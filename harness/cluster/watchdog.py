"""A deadline for kind steps the harness does not start itself (pytest-kind runs kind create, delete
and load with no timeout): past it, every kind process this process started is ended, with all
the processes under it, and the step fails with one line.

pytest-kind starts kind in the harness's own process group (so Ctrl-C reaches it), so there is no
group of kind's own to signal: its tree is found through /proc instead, stopped (SIGSTOP) until no
new process appears in it, so that nothing it starts meanwhile escapes, then killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import HarnessError
from harness.waiting import scaled

PROC = Path("/proc")


@contextmanager
def watchdog(binary: Path, step: str, seconds: float) -> Iterator[None]:
    """Run the body; past `scaled(seconds)`, end every `binary` process this process started (and
    what they started), and fail with one line naming `step`, its bound and what to do."""
    limit = scaled(seconds)
    overran = threading.Event()

    def end_step() -> None:
        overran.set()
        end_trees(children_running(binary))

    timer = threading.Timer(limit, end_step)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception:
        if overran.is_set():
            raise HarnessError(
                f"`{step}` was still running after {limit:g}s (its bound) and was ended with every "
                "process it started: see whether docker answers (`docker ps`); on a slow machine, "
                "raise --timeout-scale"
            ) from None
        raise
    finally:
        timer.cancel()
        timer.join()  # an end_step under way finishes before the next step starts


def _processes() -> dict[int, tuple[int, list[str]]]:
    """pid → (parent pid, first two arguments) of every process there is (one that ends meanwhile is
    left out)."""
    table = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = [
                arg.decode(errors="replace") for arg in (entry / "cmdline").read_bytes().split(b"\0")[:2]
            ]
        except OSError:
            continue
        # The command name in stat is in parentheses and may hold anything; state and ppid follow it.
        table[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), command)
    return table


def children_running(binary: Path) -> set[int]:
    """The processes this process started that run `binary`: argv[0] as pytest-kind passes it, or
    argv[1] where `binary` is a script its interpreter runs."""
    me = os.getpid()
    return {pid for pid, (parent, command) in _processes().items() if parent == me and str(binary) in command}


def end_trees(roots: set[int]) -> None:
    """Stop `roots` and every process under them until no new one appears, then kill them all."""
    stopped: set[int] = set()
    while True:
        table = _processes()
        tree = (roots | stopped) & table.keys()
        tree |= {pid for pid in table if _under(pid, tree, table)}
        new = tree - stopped
        if not new:
            break
        for pid in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= new
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _under(pid: int, ancestors: set[int], table: dict[int, tuple[int, list[str]]]) -> bool:
    seen = set()
    while pid in table and pid not in seen:
        seen.add(pid)
        pid = table[pid][0]
        if pid in ancestors:
            return True
    return False
