"""requirements/lock.txt (make lock) fits pyproject.toml, and make venv installs exactly it."""

from __future__ import annotations

import re
import subprocess
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.paths import PROJECT_ROOT

PROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
LOCK = PROJECT_ROOT / "requirements/lock.txt"
# name -> (version, hashes) of each pin: `name==version[ ; marker] \` then `--hash=sha256:...` lines
PINS = {
    canonicalize_name(name): (version, re.findall(r"--hash=sha256:[0-9a-f]{64}", hashes))
    for name, version, hashes in re.findall(
        r"^([A-Za-z0-9._-]+)==(\S+)[^\n]*\\\n((?:\s+--hash=\S+(?: \\)?\n)+)", LOCK.read_text(), re.M
    )
}


def test_every_dependency_is_pinned_within_its_range_with_hashes() -> None:
    requirements = [
        Requirement(r) for r in [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"]]
    ]
    for requirement in requirements:
        pinned = PINS.get(canonicalize_name(requirement.name))
        assert pinned, f"{requirement.name} is not in {LOCK.name}: run make lock"
        version, hashes = pinned
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {requirement.name}=={version}, outside {requirement}: run make lock"
        )
        assert hashes
    pinned_lines = re.findall(r"^[A-Za-z0-9._-]+==", LOCK.read_text(), re.M)
    assert len(pinned_lines) == len(PINS), "every pin has its hashes"


def test_the_lock_resolves_for_the_oldest_python_the_project_supports() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    (python,) = re.findall(r"pip compile .*--python-version (\S+)", makefile)
    assert PROJECT["requires-python"] == f">={python}"
    assert "--universal" in makefile and "--generate-hashes" in makefile


def test_make_venv_installs_the_lock_with_its_hashes_and_the_project_alone() -> None:
    done = subprocess.run(
        ["make", "-n", "venv", "VENV=/nonexistent/venv"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    installs = [line for line in done.stdout.splitlines() if " -m pip install " in line]
    assert [line.split(" -m pip install -q ")[1] for line in installs] == [
        "--require-hashes -r requirements/lock.txt",
        "--no-deps -e .",
    ]
