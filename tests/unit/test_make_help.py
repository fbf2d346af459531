"""`make` alone prints one line per target and changes nothing; every target has its line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from harness.paths import PROJECT_ROOT

MAKEFILE = PROJECT_ROOT / "Makefile"
# `make` as a user types it: not a sub-make of the make that runs these tests (make unit), which
# would print "Entering directory" lines.
PLAIN_MAKE = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}


def phony_targets() -> set[str]:
    text = MAKEFILE.read_text().replace("\\\n", " ")
    (line,) = re.findall(r"^\.PHONY:(.*)$", text, re.M)
    return set(line.split())


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_make_alone_prints_every_target_with_its_line_and_changes_nothing(tmp_path: Path) -> None:
    # A copy of what the Makefile reads (it asks harness.versions for the pinned versions), with no venv
    # and no tools: a target that ran would make them.
    shutil.copy(MAKEFILE, tmp_path / "Makefile")
    shutil.copytree(
        PROJECT_ROOT / "harness", tmp_path / "harness", ignore=shutil.ignore_patterns("__pycache__")
    )
    before = tree(tmp_path)

    done = subprocess.run(["make"], cwd=tmp_path, capture_output=True, text=True, timeout=60, env=PLAIN_MAKE)

    assert done.returncode == 0, done.stderr
    assert tree(tmp_path) == before
    listed = dict(re.findall(r"^  make (\S+) +(\S.*)$", done.stdout, re.M))
    assert set(listed) == phony_targets()
    assert listed["help"].startswith("this list")
    assert "README.md" in done.stdout.splitlines()[-1]


def test_help_is_the_default_goal_and_runs_nothing_but_itself() -> None:
    done = subprocess.run(
        ["make", "-n"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, env=PLAIN_MAKE
    )
    assert done.returncode == 0, done.stderr
    commands = done.stdout.splitlines()
    assert [c.split()[0] for c in commands] == ["awk", "echo"], commands
