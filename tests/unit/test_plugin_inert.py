"""Installed, the plugin loads in every pytest run of its environment (pytest11): another project's
suite must give the same results, in the same order, with nothing written, as without it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Someone else's suite: fixtures named as other plugins name theirs (pytest-django's `settings`), a
# marker of its own called `disruptive`, strict markers, an artifacts/ directory with files whose
# names the harness also writes, and a test that fails.
UNRELATED = {
    "pytest.ini": "[pytest]\nmarkers =\n    disruptive: theirs\naddopts = --strict-markers\n",
    "conftest.py": """
import pytest

@pytest.fixture
def settings():
    return {"DEBUG": False}

@pytest.fixture
def cluster():
    return "their cluster"
""",
    "test_app.py": """
import signal
import pytest

def test_z_comes_first(settings):
    assert settings == {"DEBUG": False}

@pytest.mark.disruptive
def test_disruptive_of_their_own():
    pass

def test_sigterm_is_left_alone():
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

def test_their_cluster(cluster):
    assert cluster == "their cluster"

def test_fails():
    assert 1 == 2

@pytest.mark.skip(reason="theirs")
def test_skipped():
    pass
""",
    "artifacts/claims.md": "their claims\n",
    "artifacts/run.json": "{}\n",
}
RESULT_LINE = re.compile(r"^(test_app\.py::\w+) (PASSED|FAILED|SKIPPED|ERROR)")


def run_unrelated(root: Path, *args: str) -> tuple[int, list[str], dict[str, str]]:
    for name, text in UNRELATED.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    results = [m.group(0) for line in proc.stdout.splitlines() if (m := RESULT_LINE.match(line))]
    files = {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}
    return proc.returncode, results, files


def test_an_unrelated_suite_gives_the_same_results_with_the_plugin_installed(tmp_path: Path):
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    with_plugin = run_unrelated(tmp_path / "with")
    without_plugin = run_unrelated(tmp_path / "without", "-p", "no:static_pod_harness")
    assert with_plugin == without_plugin
    returncode, results, files = with_plugin
    assert returncode == pytest.ExitCode.TESTS_FAILED
    assert results == [
        "test_app.py::test_z_comes_first PASSED",
        "test_app.py::test_disruptive_of_their_own PASSED",
        "test_app.py::test_sigterm_is_left_alone PASSED",
        "test_app.py::test_their_cluster PASSED",
        "test_app.py::test_fails FAILED",
        "test_app.py::test_skipped SKIPPED",
    ]
    assert files["artifacts/claims.md"] == "their claims\n" and files["artifacts/run.json"] == "{}\n"
