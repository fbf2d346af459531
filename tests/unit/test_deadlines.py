"""Waits with no deadline of their own get one: build commands and kind's steps that overrun are
ended with every process they started, and the run stops with one line naming the step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.nodeimage import proc, rootfs


def _gone(pid: int) -> bool:
    """No such process, or a zombie (ended, not yet reaped by whoever its parent is now)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _gone(pid)


def test_a_build_command_that_overruns_is_ended_with_its_children_and_names_its_step(tmp_path, monkeypatch):
    monkeypatch.setattr(proc, "COMMAND_TIMEOUT", 0.5)
    monkeypatch.setattr(proc, "GRACE", 1.0)
    pids = tmp_path / "pids"
    # A debootstrap stand-in: says which step it is at, then hangs in a child, ignoring SIGTERM.
    script = f"echo 'I: Retrieving libc6'; sleep 300 & echo $! > {pids}; trap '' TERM; wait"
    start = time.monotonic()
    with pytest.raises(HarnessError) as overran:
        proc.run(["sh", "-c", script], status=rootfs.debootstrap_status)
    assert time.monotonic() - start < 10
    message = str(overran.value)
    assert message.startswith("`sh` was still running after 0.5s (its bound) and was ended, at: ")
    assert "debootstrap trixie: Retrieving libc6" in message and "\n" not in message
    assert _wait_gone(int(pids.read_text()))


def test_a_build_command_within_its_bound_runs_to_its_end(monkeypatch):
    monkeypatch.setattr(proc, "COMMAND_TIMEOUT", 30)
    done = proc.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")
