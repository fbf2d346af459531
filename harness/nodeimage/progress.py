"""What a long build step is doing: one line every HEARTBEAT seconds, for people and CI logs.

Each stage runs under `heartbeat(name)`: a background thread prints
`[node-image] <name>: 2m40s, <status>` every HEARTBEAT seconds until the stage ends (plain
lines, no carriage-return redraws). The step running inside says what it is doing with
`doing(...)`: a fixed text, or a callable read at each beat (packages compiled so far, the
last line debootstrap printed).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

HEARTBEAT = 20.0  # seconds between two lines of a step that is still running

_doing: list[Callable[[], str]] = []


def log(message: str) -> None:
    print(f"[node-image] {message}", file=sys.stderr, flush=True)


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@contextmanager
def doing(describe: str | Callable[[], str]) -> Iterator[None]:
    """What the innermost running step is doing, for the heartbeat lines printed meanwhile."""
    read = describe if callable(describe) else lambda: describe
    _doing.append(read)
    try:
        yield
    finally:
        _doing.remove(read)


def status() -> str:
    if not _doing:
        return ""
    try:
        return _doing[-1]()
    except OSError as exc:  # a status read from a file that just went away
        return f"(no status: {exc.strerror})"


@contextmanager
def heartbeat(label: str, interval: float = HEARTBEAT) -> Iterator[None]:
    """Print `label`, the time since the block began and `status()` every `interval` seconds."""
    start = time.monotonic()
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            now = status()
            log(f"{label}: {elapsed(time.monotonic() - start)}" + (f", {now}" if now else ""))

    thread = threading.Thread(target=beat, name=f"heartbeat: {label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
