"""The shape every `python -m harness...` tool shares: bad input is one line, never a traceback."""

from __future__ import annotations

import argparse
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


def rounds(variable: str) -> Callable[[str], int]:
    """An argparse type for a count of rounds, whose error names the make variable that sets it."""

    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(
                f"{variable} must be a whole number of rounds >= 1, not {text!r}"
            )
        return int(text)

    return parse
