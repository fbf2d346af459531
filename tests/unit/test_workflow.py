"""The GitHub Actions workflows: the conformance fan-out (.github/workflows/conformance.yml) and the
pull-request checks (checks.yml), their shape, and their shell steps run here.

GitHub cannot be reached from here, so the steps that matter are run locally with bash, as a runner
runs them, with `make` (and `sudo`) replaced by a stub: the versions job's step, the version job's steps
(the stub records their arguments), its failure step, the report job's step over recorded result
directories laid out as upload-artifact and download-artifact leave them (the stub runs the real merger on
what the step passes), and each check's make target.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.paths import PROJECT_ROOT
from harness.reports import conformance
from harness.versions import conformance_defaults

WORKFLOWS = PROJECT_ROOT / ".github/workflows"
WORKFLOW = yaml.safe_load((WORKFLOWS / "conformance.yml").read_text())
JOBS = WORKFLOW["jobs"]
CHECKS = yaml.safe_load((WORKFLOWS / "checks.yml").read_text())
ALL_WORKFLOWS = {path.name: yaml.safe_load(path.read_text()) for path in sorted(WORKFLOWS.glob("*.yml"))}
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


def step(job: str, uses: str = "", run: str = "", jobs: dict[str, Any] = JOBS) -> dict[str, Any]:
    """The one step of `job` that uses the action `uses` (any version) or whose run text has `run`."""
    found = [
        s
        for s in jobs[job]["steps"]
        if (uses and s.get("uses", "").split("@")[0] == uses) or (run and run in s.get("run", ""))
    ]
    assert len(found) == 1, f"{job}: {len(found)} steps match {uses or run!r}"
    return found[0]


def render(text: str, version: str) -> str:
    """An expression of the matrix job as GitHub renders it for one version."""
    return text.replace("${{ matrix.version }}", version)


def run_step(
    script: str, cwd: Path, env: dict[str, str], make: str = RECORD, sudo: str = ""
) -> subprocess.CompletedProcess:
    """Run a step's `run:` text as a runner does (bash -e -o pipefail), with the stub `make` (and `sudo`,
    when given) on PATH."""
    stub = cwd / "stub-bin"
    stub.mkdir(exist_ok=True)
    for name, text in (("make", make), ("sudo", sudo)):
        if text:
            (stub / name).write_text(text)
            (stub / name).chmod(0o755)
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
    strategy = JOBS["version"]["strategy"]
    assert JOBS["version"]["needs"] == "versions"
    assert strategy["matrix"]["version"] == "${{ fromJSON(needs.versions.outputs.list) }}"
    assert JOBS["versions"]["outputs"]["list"] == "${{ steps.list.outputs.list }}"
    assert strategy["fail-fast"] is False
    assert JOBS["version"]["runs-on"] == "ubuntu-latest"
    for action in ("actions/checkout", "actions/setup-python", "actions/setup-go"):
        step("version", uses=action)


def test_each_version_uploads_its_own_result_directory_even_when_it_failed() -> None:
    suite = step("version", run="make conformance-version")
    upload = step("version", uses="actions/upload-artifact")
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"] == {
        "name": "conformance-${{ matrix.version }}",
        "path": "results/${{ matrix.version }}",
    }
    assert suite["env"] == {"VERSION": "${{ matrix.version }}"}
    assert 'ARTIFACTS="results/$VERSION"' in suite["run"]


def run_versions_step(tmp_path: Path, requested: str) -> list[str]:
    """The versions job's step as a runner runs it on this checkout: the list it outputs."""
    versions = step("versions", run="GITHUB_OUTPUT")
    assert versions["env"] == {"REQUESTED": "${{ inputs.versions }}"}
    output = tmp_path / "github-output"
    output.write_text("")
    run_step(versions["run"], tmp_path, {"REQUESTED": requested, "GITHUB_OUTPUT": str(output)})
    (line,) = output.read_text().splitlines()
    name, _, value = line.partition("=")
    assert name == versions["id"] == "list"
    return json.loads(value)


def test_the_versions_asked_for_else_make_conformances_weekly_and_by_hand(tmp_path: Path) -> None:
    triggers = WORKFLOW[True]  # PyYAML reads the key `on` as True
    assert triggers["workflow_dispatch"]["inputs"]["versions"]["default"] == ""
    (schedule,) = triggers["schedule"]
    minute, hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert all(f.isdigit() for f in (minute, hour, day_of_week)) and (day_of_month, month) == ("*", "*"), (
        "once a week"
    )
    # a scheduled run has no inputs: make conformance's versions, from the one list in harness/versions.py
    assert run_versions_step(tmp_path, "") == list(conformance_defaults())
    assert run_versions_step(tmp_path, '["1.36.4"]') == ["1.36.4"]


def test_the_version_step_runs_one_versions_suite_into_its_result_directory(tmp_path: Path) -> None:
    suite = step("version", run="make conformance-version")
    env = {
        name: render(str(value), "1.34.4")
        for name, value in {**JOBS["version"]["env"], **suite["env"]}.items()
    }
    run_step(suite["run"], tmp_path, env)
    assert (tmp_path / "make-args").read_text().split("\0")[:-1] == [
        "conformance-version",
        "K8S_VERSION=1.34.4",
        "NODE_IMAGE=auto",
        "ARTIFACTS=results/1.34.4",
        "JOBS=4",
    ]


def test_the_inotify_limits_are_raised_with_sudo_to_what_host_setup_raises_them_to(tmp_path: Path) -> None:
    steps = JOBS["version"]["steps"]
    raise_limits = step("version", run="sysctl")
    assert steps.index(raise_limits) < steps.index(step("version", run="make conformance-version"))
    run_step(raise_limits["run"], tmp_path, {}, sudo=RECORD)
    args = (tmp_path / "make-args").read_text().split("\0")[:-1]  # what the stub sudo recorded
    assert args[:2] == ["sysctl", "-w"]
    host_setup = (PROJECT_ROOT / "host/setup.sh").read_text()
    wanted = re.findall(r"^\s*raise_sysctl (fs\.inotify\.\S+) (\d+)$", host_setup, re.M)
    assert args[2:] == [f"{key}={value}" for key, value in wanted] and len(wanted) == 2


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
    assert report["if"] == "${{ !cancelled() }}"  # not always(): a cancelled run stops here too
    download = step("report", uses="actions/download-artifact")
    assert download["with"] == {"pattern": "conformance-*", "path": "results"}
    upload = step("report", uses="actions/upload-artifact")
    assert upload["if"] == "${{ !cancelled() }}"
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


@pytest.mark.parametrize("name", ALL_WORKFLOWS)
def test_actions_are_pinned_by_major_version(name: str) -> None:
    for job in ALL_WORKFLOWS[name]["jobs"].values():
        for s in job["steps"]:
            if "uses" in s:
                assert s["uses"].split("@")[1] in {"v4", "v5"}, s["uses"]


@pytest.mark.parametrize("name", ALL_WORKFLOWS)
def test_every_workflow_reads_the_repository_only_and_caches_pip_by_the_lock(name: str) -> None:
    workflow = ALL_WORKFLOWS[name]
    assert workflow["permissions"] == {"contents": "read"}
    assert "always()" not in (WORKFLOWS / name).read_text()
    for job in workflow["jobs"].values():
        for s in job["steps"]:
            if s.get("uses", "").startswith("actions/setup-python@"):
                assert s["with"]["cache"] == "pip"
                assert s["with"]["cache-dependency-path"] == "requirements/lock.txt"
    assert (PROJECT_ROOT / "requirements/lock.txt").is_file()


def test_pull_requests_run_lint_the_unit_tests_at_the_lock_and_the_floors_and_the_citations(
    tmp_path: Path,
) -> None:
    assert set(CHECKS[True]) == {"pull_request", "push"}  # PyYAML reads the key `on` as True
    makefile = (PROJECT_ROOT / "Makefile").read_text().replace("\\\n", " ")
    (phony,) = re.findall(r"^\.PHONY:(.*)$", makefile, re.M)
    targets = []
    for name, job in CHECKS["jobs"].items():
        assert job["runs-on"] == "ubuntu-latest", name
        for s in job["steps"]:
            if "run" in s:
                run_step(s["run"], tmp_path, {})
                (target,) = (tmp_path / "make-args").read_text().split("\0")[:-1]
                targets.append(target)
    assert targets == ["lint", "unit", "unit-floors", "citations"]
    assert set(targets) <= set(phony.split())
