"""The e2e suite in a child pytest, as the tools that run it whole (conformance, soak, speed) do."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from harness.waiting import scaled

# Seconds (scaled) a suite interrupted here gets to delete its clusters before it is killed.
INTERRUPT_GRACE = 120


def pytest_command(result_dir: Path, *args: str) -> list[str]:
    """A child pytest that writes its results (junit.xml, claims, run.json, diagnostics) into
    `result_dir`, with `args` last (a user's extra arguments come after the tool's)."""
    return [
        sys.executable, "-m", "pytest",
        f"--sph-artifacts-dir={result_dir}", f"--junitxml={result_dir / 'junit.xml'}",
        "-p", "no:cacheprovider", *args,
    ]  # fmt: skip


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
