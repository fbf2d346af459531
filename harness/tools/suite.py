"""The e2e suite in a child pytest, as the tools that run it whole (conformance, soak, speed) do."""

from __future__ import annotations

import signal
import subprocess

from harness.waiting import scaled

# Seconds (scaled) a suite interrupted here gets to delete its clusters before it is killed.
INTERRUPT_GRACE = 120


def run_suite(command: list[str]) -> int:
    """Run `command` (a pytest); an interrupt here reaches it as SIGTERM, so it deletes its clusters."""
    child = subprocess.Popen(command)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=scaled(INTERRUPT_GRACE))
        except subprocess.TimeoutExpired:
            child.kill()
        raise
