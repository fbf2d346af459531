"""A line every so often while a long step that shows no progress of its own runs.

`kind create cluster` and `kind load docker-image` can be silent for minutes; a person (or a CI
log) should see that they still run and for how long. Plain lines, never carriage-return
redraws, so a CI log reads the same as a terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Seconds between two lines: often enough to see a step is alive, rare enough for a CI log.
INTERVAL = 20.0


@contextmanager
def heartbeat(
    doing: str,
    log: Callable[[str], None],
    interval: float = INTERVAL,
    *,
    status: Callable[[], str] | None = None,
    done: bool = True,
) -> Iterator[None]:
    """`log("<doing>: still running, 40 s")` every `interval` seconds of the body, with
    `, <status()>` appended when `status` says something, and `log("<doing>: done in 75 s")` once
    it returns (unless `done` is False: the caller says that itself)."""
    started, finished = time.monotonic(), threading.Event()

    def beat() -> None:
        while not finished.wait(interval):
            now = status() if status else ""
            log(f"{doing}: still running, {time.monotonic() - started:.0f} s" + (f", {now}" if now else ""))

    thread = threading.Thread(target=beat, name=f"heartbeat: {doing}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        finished.set()
        thread.join()
    if done:
        log(f"{doing}: done in {time.monotonic() - started:.0f} s")
