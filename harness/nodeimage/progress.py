"""What a long build step is doing: one line every HEARTBEAT seconds, for people and CI logs.

Each stage runs under `heartbeat(name)`: harness.heartbeat prints
`[node-image] <name>: still running, 160 s, <status>` every HEARTBEAT seconds until the stage
ends (plain lines, no carriage-return redraws). The step running inside says what it is doing with
`doing(...)`: a fixed text, or a callable read at each beat (packages compiled so far, the
last line debootstrap printed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from harness.heartbeat import heartbeat as shared_heartbeat

HEARTBEAT = 20.0  # seconds between two lines of a step that is still running

_doing: list[Callable[[], str]] = []


def log(message: str) -> None:
    print(f"[node-image] {message}", file=sys.stderr, flush=True)


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
    """What the innermost running step says it is doing ("" when none says anything).

    Called from the heartbeat thread while the build's thread enters and leaves steps: the
    list is read once (a step may end between a check and a read), and whatever a status
    callable raises becomes the status, so the heartbeat never dies with a traceback."""
    try:
        read = _doing[-1]
    except IndexError:  # no step, or the last one just ended
        return ""
    try:
        return read()
    except OSError as exc:  # a status read from a file that just went away
        return f"(no status: {exc.strerror})"
    except Exception as exc:  # a status of a step that is ending; the next beat reads the next one
        return f"(no status: {exc})"


def heartbeat(
    label: str, say: Callable[[str], None] = log, interval: float = HEARTBEAT
) -> AbstractContextManager[None]:
    """`[node-image] <label>: still running, 40 s, <status()>` every `interval` seconds while the
    block runs (harness.heartbeat; the stage itself says when it is done)."""
    return shared_heartbeat(label, say, interval, status=status, done=False)
