"""Errors the user can act on: printed as one line, never as a traceback."""


class HarnessError(Exception):
    """Bad input or a missing prerequisite; the message says what to do."""
