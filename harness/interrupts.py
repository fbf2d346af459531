"""Ctrl-C, SIGTERM and SIGHUP: all end a run the same way, and none can cut a clean-up short.

CI time-outs and `kill` send SIGTERM, a closed terminal or dropped ssh session SIGHUP; their
default action ends Python without running `finally` blocks or context-manager exits (and
the commands a build runs in sessions of their own would go on); every entry point that
makes clusters or containers calls `handle_interrupts()` first. A signal that is ignored
(SIGHUP under nohup) stays ignored. On the first signal, what was registered with
`on_interrupt` (deleting the clusters the run created) runs at once, before any graceful
clean-up, and only then is KeyboardInterrupt raised. What must not be cut short runs under
`signals_held`: a second Ctrl-C or a SIGTERM that arrives meanwhile waits until it is done.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _handled() -> list[signal.Signals]:
    """_SIGNALS, but SIGHUP only when this process does not ignore it (nohup ignores SIGHUP, and wants
    to). SIGINT and SIGTERM are always handled: a shell starts background jobs with SIGINT ignored,
    and `kill -INT` must still end such a run cleanly."""
    return [s for s in _SIGNALS if s != signal.SIGHUP or signal.getsignal(s) is not signal.SIG_IGN]


_on_interrupt: list[Callable[[], None]] = []


def on_interrupt(cleanup: Callable[[], None]) -> None:
    """Run `cleanup` on the first Ctrl-C or SIGTERM, before KeyboardInterrupt unwinds the run."""
    _on_interrupt.append(cleanup)


def _interrupted(signum: int, frame: object) -> None:
    cleanups, _on_interrupt[:] = list(_on_interrupt), []
    with signals_held("cleaning up after the interrupt"):
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception as exc:  # the others still run; the interrupt still ends the run
                print(f"[harness] clean-up after the interrupt failed: {exc}", file=sys.stderr)
    raise KeyboardInterrupt(f"signal {signum}")


def handle_interrupts() -> None:
    """SIGINT, SIGTERM and SIGHUP each run the registered clean-ups, then raise KeyboardInterrupt."""
    if threading.current_thread() is threading.main_thread():
        for signum in _handled():
            signal.signal(signum, _interrupted)


_holding: list[str] = []  # what the outermost signals_held is doing, while it runs


@contextmanager
def signals_held(doing: str) -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP during the body; one that came is raised after it
    (as KeyboardInterrupt).

    Nested uses hold for the outermost one, so a clean-up made of several steps is never cut
    between two of them."""
    if _holding or threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, frame: object) -> None:
        if not held:
            print(f"[harness] {_holding[0]}: wait, or the machine keeps what this run made", file=sys.stderr)
        held.append(signum)

    previous = {signum: signal.signal(signum, hold) for signum in _handled()}
    _holding.append(doing)
    try:
        yield
    finally:
        _holding.clear()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            raise KeyboardInterrupt(f"signal {held[0]} (held until {doing} was done)")
