"""The GitHub Actions fan-out (.github/workflows/conformance.yml): its shape, and its shell steps run here.

GitHub cannot be reached from here, so the steps that matter are run locally with bash, as a runner
runs them, with `make` replaced by a stub: the version job's step (the stub records its arguments), its
failure step, and the report job's step over recorded result directories laid out as upload-artifact and
download-artifact leave them (the stub runs the real merger on what the step passes).
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.paths import PROJECT_ROOT
from harness.reports import conformance

WORKFLOW = yaml.safe_load((PROJECT_ROOT / ".github/workflows/conformance.yml").read_text())
JOBS = WORKFLOW["jobs"]
DATA = PROJECT_ROOT / "tests/unit/data/conformance"
# 1.34.4 has a failed test with its diagnostics directory; 1.35.4 did not run
VERSIONS = ["1.33.13", "1.34.4", "1.35.4"]
RECORD = '#!/bin/sh\nprintf "%s\\0" "$@" > "$MAKE_ARGS"\n'  # a `make` that records its arguments
# A `make` that records its arguments, then runs `make report ARTIFACTS_FROM="dir ..." ARTIFACTS=out` as the
# Makefile's recipe does (ARTIFACTS_FROM split into words); other arguments, such as a word split off by the
# step's quoting, fail it.
REPORT = f"""{RECORD}case "$#:$1:$2:$3" in
  3:report:ARTIFACTS_FROM=*:ARTIFACTS=*) ;;
  *) echo "make: bad arguments: $*" >&2; exit 2 ;;
esac
exec {sys.executable} -m harness.reports.conformance --out "${{3#ARTIFACTS=}}" ${{2#ARTIFACTS_FROM=}}
"""


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


def run_step(script: str, cwd: Path, env: dict[str, str], make: str = RECORD) -> subprocess.CompletedProcess:
    """Run a step's `run:` text as a runner does (bash -e -o pipefail), with the stub `make` on PATH."""
    stub = cwd / "stub-bin"
    stub.mkdir(exist_ok=True)
    (stub / "make").write_text(make)
    (stub / "make").chmod(0o755)
    (cwd / "step.sh").write_text(script)
    path = f"{stub}{os.pathsep}{os.environ['PATH']}"
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "step.sh"],
        cwd=cwd,
        env={
            **os.environ,
            **env,
            "PATH": path,
            "MAKE_ARGS": str(cwd / "make-args"),
            "PYTHONPATH": str(PROJECT_ROOT),
        },
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


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
    run_step(suite["run"], tmp_path, env)
    assert (tmp_path / "make-args").read_text().split("\0")[:-1] == [
        "conformance-version",
        "K8S_VERSION=1.34.4",
        "NODE_IMAGE=auto",
        "ARTIFACTS=results/1.34.4",
    ]


def test_a_version_job_that_failed_before_its_suite_still_uploads_a_run_json() -> None:
    steps = JOBS["version"]["steps"]
    suite = step("version", run="make conformance-version")
    failed = step("version", run="run.json")
    upload = step("version", uses="actions/upload-artifact")
    assert steps.index(suite) < steps.index(failed) < steps.index(upload)
    assert failed["if"] == "failure()"
    assert failed["env"] == suite["env"]


def test_the_failure_step_writes_a_failed_column_and_keeps_the_suites_own_run_json(tmp_path: Path) -> None:
    failed = step("version", run="run.json")
    env = {name: render(value, "1.34.4") for name, value in failed["env"].items()}
    run_step(failed["run"], tmp_path, env)
    column = conformance.load(tmp_path / "results/1.34.4")
    assert column.label == "1.34.4" and column.failed and column.partial
    assert column.status == "failed: the CI job failed before the suite ran (see the job log)"
    assert (column.kubernetes, column.kubelets, column.kind, column.node_image) == ((), (), "", "")
    assert column.seconds == 0

    recorded = DATA / "1.34.4/run.json"
    shutil.copy(recorded, tmp_path / "results/1.34.4/run.json")
    run_step(failed["run"], tmp_path, env)
    assert (tmp_path / "results/1.34.4/run.json").read_text() == recorded.read_text()


def test_the_report_job_runs_after_every_version_whatever_their_outcome() -> None:
    report = JOBS["report"]
    assert report["needs"] == "version"
    assert report["if"] == "always()"
    download = step("report", uses="actions/download-artifact")
    assert download["with"] == {"pattern": "conformance-*", "path": "results"}
    upload = step("report", uses="actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"].split() == ["report", download["with"]["path"]]
    assert not fnmatch.fnmatch(upload["with"]["name"], download["with"]["pattern"])


def test_the_report_step_merges_every_downloaded_result_directory_and_its_links_resolve(
    tmp_path: Path,
) -> None:
    upload = step("version", uses="actions/upload-artifact")["with"]
    failed = step("version", run="run.json")
    download = step("report", uses="actions/download-artifact")["with"]
    report_workspace = tmp_path / "report-job"
    report_workspace.mkdir()
    versions = [*VERSIONS, "1.32.5"]  # 1.32.5: its job failed before the suite ran
    for version in versions:
        # the version job leaves its result directory and uploads it under its artifact name ...
        job_workspace = tmp_path / f"job-{version}"
        job_workspace.mkdir()
        uploaded = job_workspace / render(upload["path"], version)
        if version in VERSIONS:
            shutil.copytree(DATA / version, uploaded)
        else:
            run_step(failed["run"], job_workspace, {k: render(v, version) for k, v in failed["env"].items()})
        name = render(upload["name"], version)
        # ... and download-artifact@v4 puts each artifact matching `pattern` (without merge-multiple), even a
        # lone one, in <path>/<artifact name>/ (actions/download-artifact src/download-artifact.ts)
        assert fnmatch.fnmatch(name, download["pattern"])
        shutil.copytree(uploaded, report_workspace / download["path"] / name)

    proc = run_step(step("report", run="make report")["run"], report_workspace, {}, make=REPORT)

    args = (report_workspace / "make-args").read_text().split("\0")[:-1]
    assert args[0] == "report" and args[2:] == ["ARTIFACTS=report"]
    # make's word list, space-separated: a newline would end the recipe's command line
    directories = args[1].removeprefix("ARTIFACTS_FROM=").split(" ")
    assert directories == [f"results/conformance-{v}" for v in sorted(versions)]
    assert "differences between 4 versions" in proc.stdout
    report = json.loads((report_workspace / "report/conformance.json").read_text())
    columns = {c["version"]: c for c in report["versions"]}
    assert list(columns) == sorted(versions, key=lambda v: tuple(map(int, v.split("."))))
    assert {v: c["directory"] for v, c in columns.items()} == {
        v: f"../results/conformance-{v}" for v in versions
    }
    assert [v for v, c in columns.items() if c["status"] != "ran"] == ["1.32.5", "1.35.4"]
    # the report's artifact holds report/ and results/ side by side: its diagnostics links stay inside it
    artifact = step("report", uses="actions/upload-artifact")["with"]["path"].split()
    roots = [(report_workspace / path).resolve() for path in artifact]
    links = [c["diagnostics"] for r in report["behaviours"] for c in r["cells"].values() if c["diagnostics"]]
    (diagnostics,) = (DATA / "1.34.4" / "diagnostics").glob("tests_e2e_*")
    assert links == [f"../results/conformance-1.34.4/diagnostics/{diagnostics.name}"]
    for link in links:
        target = (report_workspace / "report" / link).resolve()
        assert target.is_dir() and any(target.is_relative_to(root) for root in roots)


@pytest.mark.parametrize("job", ["version", "report"])
def test_actions_are_pinned_by_major_version(job: str) -> None:
    for s in JOBS[job]["steps"]:
        if "uses" in s:
            assert s["uses"].split("@")[1] in {"v4", "v5"}, s["uses"]
