"""The GitHub Actions fan-out (.github/workflows/conformance.yml): its shape, and its shell steps run here.

GitHub cannot be reached from here, so the steps that matter are run locally with bash, as a runner
runs them, with `make` replaced by a stub that records its arguments: the version job's step, and the
report job's step over result directories laid out as upload-artifact and download-artifact leave them.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.paths import PROJECT_ROOT
from harness.reports.claims import ClaimsReport, RunInfo

WORKFLOW = yaml.safe_load((PROJECT_ROOT / ".github/workflows/conformance.yml").read_text())
JOBS = WORKFLOW["jobs"]
VERSIONS = ["1.33.13", "1.35.4"]


def step(job: str, uses: str = "", run: str = "") -> dict[str, Any]:
    """The one step of `job` that uses the action `uses` (any version) or whose run text has `run`."""
    found = [
        s
        for s in JOBS[job]["steps"]
        if (uses and s.get("uses", "").split("@")[0] == uses) or (run and run in s.get("run", ""))
    ]
    assert len(found) == 1, f"{job}: {len(found)} steps match {uses or run!r}"
    return found[0]


def render(text: str, version: str) -> str:
    """An expression of the matrix job as GitHub renders it for one version."""
    return text.replace("${{ matrix.version }}", version)


def run_step(script: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """Run a step's `run:` text as a runner does (bash -e -o pipefail); return the stub make's arguments."""
    stub = cwd / "stub-bin"
    stub.mkdir()
    (stub / "make").write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$MAKE_ARGS"\n')
    (stub / "make").chmod(0o755)
    (cwd / "step.sh").write_text(script)
    path = f"{stub}{os.pathsep}{os.environ['PATH']}"
    args = cwd / "make-args"
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "step.sh"],
        cwd=cwd,
        env={**os.environ, **env, "PATH": path, "MAKE_ARGS": str(args)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return args.read_text().split("\0")[:-1]


def result_dir(directory: Path, version: str) -> None:
    """A minimal result directory of one version, as `make conformance-version` leaves it."""
    directory.mkdir(parents=True)
    run = {
        "requested": version,
        "kubernetes": f"v{version}",
        "kubelets": [f"v{version}"],
        "kind": "v0.30.0",
        "node_image": f"static-pod-harness/node-release:v{version}",
        "status": "ran",
        "seconds": 900.0,
    }
    (directory / "run.json").write_text(json.dumps(run))
    (directory / "junit.xml").write_text(
        '<testsuites><testsuite name="pytest" tests="1">'
        '<testcase classname="tests.e2e.test_mirror" name="test_mirror_is_named_after_the_node"/>'
        "</testsuite></testsuites>"
    )
    ClaimsReport().write(directory, RunInfo([f"v{version}"], [f"v{version}"], False, []))


def test_one_job_per_version_none_cancelling_the_others() -> None:
    dispatch = WORKFLOW[True]["workflow_dispatch"]  # PyYAML reads the key `on` as True
    assert json.loads(dispatch["inputs"]["versions"]["default"]) == ["1.33.13", "1.34.4", "1.35.4"]
    strategy = JOBS["version"]["strategy"]
    assert strategy["matrix"]["version"] == "${{ fromJSON(inputs.versions) }}"
    assert strategy["fail-fast"] is False
    assert JOBS["version"]["runs-on"] == "ubuntu-latest"
    for action in ("actions/checkout", "actions/setup-python", "actions/setup-go"):
        step("version", uses=action)


def test_each_version_uploads_its_own_result_directory_even_when_it_failed() -> None:
    suite = step("version", run="make conformance-version")
    upload = step("version", uses="actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"] == {
        "name": "conformance-${{ matrix.version }}",
        "path": "results/${{ matrix.version }}",
    }
    assert suite["env"] == {"VERSION": "${{ matrix.version }}"}
    assert 'ARTIFACTS="results/$VERSION"' in suite["run"]


def test_the_version_step_runs_one_versions_suite_into_its_result_directory(tmp_path: Path) -> None:
    suite = step("version", run="make conformance-version")
    env = {name: render(value, "1.34.4") for name, value in suite["env"].items()}
    assert run_step(suite["run"], tmp_path, env) == [
        "conformance-version",
        "K8S_VERSION=1.34.4",
        "NODE_IMAGE=auto",
        "ARTIFACTS=results/1.34.4",
    ]


def test_the_report_job_runs_after_every_version_whatever_their_outcome() -> None:
    report = JOBS["report"]
    assert report["needs"] == "version"
    assert report["if"] == "always()"
    download = step("report", uses="actions/download-artifact")
    assert download["with"] == {"pattern": "conformance-*", "path": "results"}
    upload = step("report", uses="actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == "report"
    assert not fnmatch.fnmatch(upload["with"]["name"], download["with"]["pattern"])


def test_the_report_step_passes_every_downloaded_result_directory_to_make_report(tmp_path: Path) -> None:
    upload = step("version", uses="actions/upload-artifact")["with"]
    download = step("report", uses="actions/download-artifact")["with"]
    job_workspace, report_workspace = tmp_path / "version-job", tmp_path / "report-job"
    report_workspace.mkdir()
    for version in VERSIONS:
        # the version job writes its result directory and uploads it under its artifact name ...
        uploaded = job_workspace / render(upload["path"], version)
        result_dir(uploaded, version)
        name = render(upload["name"], version)
        # ... and download-artifact@v4 puts each artifact matching `pattern` (without merge-multiple), even a
        # lone one, in <path>/<artifact name>/ (actions/download-artifact src/download-artifact.ts)
        assert fnmatch.fnmatch(name, download["pattern"])
        shutil.copytree(uploaded, report_workspace / download["path"] / name)

    args = run_step(step("report", run="make report")["run"], report_workspace, {})

    assert args[0] == "report" and args[2:] == ["ARTIFACTS=report"]
    name, _, value = args[1].partition("=")
    assert name == "ARTIFACTS_FROM"
    directories = value.split(" ")  # make's word list: a newline would end the recipe's command line
    assert directories == [f"results/conformance-{version}" for version in VERSIONS]
    for directory, version in zip(directories, VERSIONS, strict=True):
        run = json.loads((report_workspace / directory / "run.json").read_text())
        assert run["requested"] == version and run["status"] == "ran"
        assert (report_workspace / directory / "claims.json").is_file()


@pytest.mark.parametrize("job", ["version", "report"])
def test_actions_are_pinned_by_major_version(job: str) -> None:
    for s in JOBS[job]["steps"]:
        if "uses" in s:
            assert s["uses"].split("@")[1] in {"v4", "v5"}, s["uses"]
