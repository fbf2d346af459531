"""The plugin as another team uses it: the wheel built, installed into a fresh virtualenv outside
this checkout, and docs/writing-a-test.md's "Use it in your own repository" example run against this
session's cluster (--reuse-cluster: no second cluster is made). Then an unrelated suite, with and
without the installed plugin (tests/unit/test_plugin_inert.py), gives the same results.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cluster.kind import Kind
from harness.paths import PROJECT_ROOT
from harness.plugin.options import TIMEOUT_SCALE, option_value

pytestmark = pytest.mark.harness

EXAMPLE_SECTION = "## Use it in your own repository"
# Seconds: building the wheel, and installing it with its dependencies from PyPI.
PIP_TIMEOUT = 600
EXAMPLE_TIMEOUT = 600


def docs_example() -> tuple[str, str]:
    """The section's Python test and its manifest, as docs/writing-a-test.md shows them."""
    page = (PROJECT_ROOT / "docs/writing-a-test.md").read_text()
    section = page.split(EXAMPLE_SECTION, 1)[1].split("\n## ", 1)[0]
    (test,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    (manifest,) = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    return test, manifest


def run(*command: str | Path, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{command} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_the_wheel_in_a_fresh_venv_runs_the_docs_example_on_this_sessions_cluster(
    tmp_path, kind_cluster_ready, static_pod_settings, static_pod_test_image, pytestconfig
):
    started, options = time.monotonic(), static_pod_settings
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        tmp_path / "dist",
        PROJECT_ROOT,
        cwd=tmp_path,
        timeout=PIP_TIMEOUT,
    )
    (wheel,) = (tmp_path / "dist").glob("static_pod_harness-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path, timeout=PIP_TIMEOUT)
    run(venv / "bin/pip", "install", "-q", wheel, cwd=tmp_path, timeout=PIP_TIMEOUT)
    installed = time.monotonic()

    project = tmp_path / "their-repo"
    test, manifest = docs_example()
    (project / "deploy").mkdir(parents=True)
    (project / "test_agent.py").write_text(test)
    (project / "deploy/agent.yaml").write_text(manifest)
    clusters = Kind(options.kind_bin).clusters()
    result = run(
        venv / "bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-v",
        f"--sph-reuse-cluster={kind_cluster_ready.name}",
        f"--sph-kind-config={options.kind_config}",
        f"--sph-kind-bin={options.kind_bin}",
        f"--sph-test-image={static_pod_test_image}",
        f"--sph-timeout-scale={option_value(pytestconfig, TIMEOUT_SCALE)}",
        f"--sph-artifacts-dir={tmp_path / 'artifacts'}",
        cwd=project,
        timeout=EXAMPLE_TIMEOUT,
    )
    assert "test_agent.py::test_agent_runs_as_a_static_pod_with_a_mirror PASSED" in result.stdout
    assert (
        f"{venv}/lib/"
        in run(
            venv / "bin/python", "-c", "import harness; print(harness.__file__)", cwd=project, timeout=60
        ).stdout
    )
    assert Kind(options.kind_bin).clusters() == clusters  # reused, not a second one

    inert = run(
        venv / "bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        PROJECT_ROOT / "tests/unit/test_plugin_inert.py",
        cwd=tmp_path,
        timeout=EXAMPLE_TIMEOUT,
    )
    assert "1 passed" in inert.stdout
    print(
        f"wheel built and installed in {installed - started:.0f} s, "
        f"example and unrelated suite run in {time.monotonic() - installed:.0f} s"
    )
