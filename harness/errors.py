"""Errors the user can act on: printed as one line, never as a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterable


class HarnessError(Exception):
    """Bad input or a missing prerequisite; the message says what to do."""


def run_each(steps: Iterable[Callable[[], None]], what: str) -> None:
    """Run every step even when one fails; then raise the failure, or several as one group."""
    errors: list[Exception] = []
    for step in steps:
        try:
            step()
        except Exception as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ExceptionGroup(f"{what}: several steps failed", errors)
