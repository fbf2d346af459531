"""The shape every `python -m harness...` tool shares: bad input is one line, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from harness.errors import HarnessError


def run(action: Callable[[], None]) -> int:
    """Run a tool's action: 0 when it returns, 1 with `error: ...` for a HarnessError, 130 on Ctrl-C."""
    try:
        action()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
