"""A long silent step prints plain lines with its elapsed time, and says when it is done."""

import threading

import pytest

from harness.heartbeat import heartbeat


def test_a_line_each_interval_then_done():
    lines: list[str] = []
    with heartbeat("creating cluster x", lines.append, interval=0.05):
        threading.Event().wait(0.18)
    assert len(lines) >= 3
    assert all(line.startswith("creating cluster x: still running, ") for line in lines[:-1])
    assert lines[-1].startswith("creating cluster x: done in ")
    assert not any("\r" in line for line in lines)


def test_a_failed_step_stops_the_heartbeat_and_is_not_called_done():
    lines: list[str] = []
    with pytest.raises(RuntimeError), heartbeat("loading image", lines.append, interval=0.05):
        raise RuntimeError("kind failed")
    threading.Event().wait(0.12)
    assert lines == []
