"""SIGTERM handled like Ctrl-C, so that clean-up (clusters, build containers) runs either way.

CI time-outs and `kill` send SIGTERM, whose default action ends Python without running
`finally` blocks or context-manager exits; every entry point that makes clusters or
containers installs this first.
"""

from __future__ import annotations

import signal


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_as_keyboard_interrupt() -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)
