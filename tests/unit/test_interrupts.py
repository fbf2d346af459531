"""Ctrl-C, SIGTERM and SIGHUP (harness.interrupts), with real signals sent to this process."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from harness import interrupts


@pytest.fixture(autouse=True)
def restore_signals() -> Iterator[None]:
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    registered = list(interrupts._on_interrupt)
    interrupts._on_interrupt.clear()
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    interrupts._on_interrupt[:] = registered


def send(signum: int) -> None:
    """Signal this process and give the handler a moment to run (it runs between bytecodes)."""
    os.kill(os.getpid(), signum)
    for _ in range(20):
        time.sleep(0.005)


def test_clean_ups_run_in_order_before_keyboard_interrupt_and_only_once() -> None:
    calls: list[str] = []
    interrupts.handle_interrupts()
    interrupts.on_interrupt(lambda: calls.append("first"))
    interrupts.on_interrupt(lambda: calls.append("second"))

    with pytest.raises(KeyboardInterrupt):
        send(signal.SIGINT)
        calls.append("not reached")
    assert calls == ["first", "second"]

    with pytest.raises(KeyboardInterrupt):
        send(signal.SIGINT)
    assert calls == ["first", "second"]


def test_sigterm_ends_the_run_the_same_way() -> None:
    calls: list[str] = []
    interrupts.handle_interrupts()
    interrupts.on_interrupt(lambda: calls.append("cleaned"))
    with pytest.raises(KeyboardInterrupt, match=f"signal {int(signal.SIGTERM)}"):
        send(signal.SIGTERM)
    assert calls == ["cleaned"]


def test_sighup_of_a_closed_terminal_ends_the_run_the_same_way() -> None:
    calls: list[str] = []
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    interrupts.handle_interrupts()
    interrupts.on_interrupt(lambda: calls.append("cleaned"))
    assert signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL  # else the signal would end pytest
    with pytest.raises(KeyboardInterrupt, match=f"signal {int(signal.SIGHUP)}"):
        send(signal.SIGHUP)
    assert calls == ["cleaned"]


def test_a_run_under_nohup_keeps_ignoring_sighup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    interrupts.handle_interrupts()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    with interrupts.signals_held("x"):
        send(signal.SIGHUP)  # ignored, not held (and so not raised after)
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_a_background_job_whose_shell_ignored_sigint_still_ends_cleanly_on_it() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a non-interactive shell does for `cmd &`
    calls: list[str] = []
    interrupts.handle_interrupts()
    interrupts.on_interrupt(lambda: calls.append("cleaned"))
    with pytest.raises(KeyboardInterrupt):
        send(signal.SIGINT)
    assert calls == ["cleaned"]


def test_a_failing_clean_up_does_not_stop_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("kind is gone")

    interrupts.handle_interrupts()
    interrupts.on_interrupt(broken)
    interrupts.on_interrupt(lambda: calls.append("after"))
    with pytest.raises(KeyboardInterrupt):
        send(signal.SIGINT)
    assert calls == ["after"]
    assert "clean-up after the interrupt failed: kind is gone" in capsys.readouterr().err


def test_a_second_signal_during_the_clean_ups_waits_for_them() -> None:
    calls: list[str] = []

    def impatient() -> None:
        send(signal.SIGINT)  # held: the clean-up goes on
        calls.append("cleaned")

    interrupts.handle_interrupts()
    interrupts.on_interrupt(impatient)
    with pytest.raises(KeyboardInterrupt):
        send(signal.SIGINT)
    assert calls == ["cleaned"]


def test_signals_held_raises_only_after_the_body(capsys: pytest.CaptureFixture[str]) -> None:
    before = signal.getsignal(signal.SIGTERM)
    steps: list[str] = []
    with (
        pytest.raises(KeyboardInterrupt, match=r"held until deleting x was done"),
        interrupts.signals_held("deleting x"),
    ):
        send(signal.SIGTERM)
        steps.append("body done")
    assert steps == ["body done"]
    assert signal.getsignal(signal.SIGTERM) is before
    assert "deleting x: wait" in capsys.readouterr().err


def test_signals_held_without_a_signal_raises_nothing() -> None:
    with interrupts.signals_held("x"):
        pass
