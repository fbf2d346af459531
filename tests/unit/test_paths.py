"""Where the harness puts a failed test's diagnostics: under artifacts/diagnostics/, one directory a test."""

from __future__ import annotations

from pathlib import Path

from harness.paths import diagnostics_dir


def test_diagnostics_go_under_their_own_directory_not_among_the_reports():
    path = diagnostics_dir(Path("/a"), "tests/e2e/test_x.py::test_y[forced]")
    assert path == Path("/a/diagnostics/tests_e2e_test_x.py_test_y_forced")
