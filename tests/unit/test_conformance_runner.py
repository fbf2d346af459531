"""The conformance runner (harness/tools/conformance.py) without Docker or clusters.

The node image choice, the Docker client and the child pytest are replaced: a fake suite writes what
the plugin would (run.json, junit.xml) and exits with the code it is given.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path
from typing import ClassVar

import docker.errors
import pytest

from harness.errors import HarnessError
from harness.reports.conformance import load
from harness.tools import conformance as runner
from harness.tools import suite as suite_module
from harness.waiting import scaled

KIND = Path("/usr/local/bin/kind")


class Suite:
    """The child pytest: per version, its exit code and the run.json status it writes (None: no run.json)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.statuses: dict[str, str | None] = {}
        self.commands: list[list[str]] = []

    def __call__(self, command: list[str]) -> int:
        self.commands.append(command)
        options = dict(arg[2:].split("=", 1) for arg in command if arg.startswith("--") and "=" in arg)
        version, result_dir = options["sph-k8s-version"], Path(options["sph-artifacts-dir"])
        status = self.statuses.get(version, "ran")
        if status is not None:
            run = {"requested": version, "kubernetes": [f"v{version}"], "status": status, "partial": False}
            (result_dir / "run.json").write_text(json.dumps(run))
        (result_dir / "junit.xml").write_text("<testsuites/>")
        return self.codes.get(version, 0)

    def ran(self) -> list[str]:
        return [
            next(a.split("=", 1)[1] for a in c if a.startswith("--sph-k8s-version=")) for c in self.commands
        ]


@pytest.fixture
def suite(monkeypatch: pytest.MonkeyPatch) -> Suite:
    fake = Suite()
    monkeypatch.setattr(runner, "docker_client", lambda: "docker")
    monkeypatch.setattr(runner, "choose_node_image", lambda choice, version, client: f"node:v{version}")
    monkeypatch.setattr(runner, "run_suite", fake)
    monkeypatch.setattr(runner, "handle_interrupts", lambda: None)  # the test process keeps its own handlers
    return fake


@pytest.fixture
def merged(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The report merger's argument lists; it succeeds."""
    calls: list[list[str]] = []
    monkeypatch.setattr(runner.conformance, "main", lambda argv: calls.append(argv) or 0)
    return calls


def status(result_dir: Path) -> str:
    return json.loads((result_dir / "run.json").read_text())["status"]


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (
            HarnessError("no node image for 1.33.13: build it offline"),
            "no node image for 1.33.13: build it offline",
        ),
        (docker.errors.APIError("conflict"), "APIError: conflict"),
        (OSError("No space left on device\nwhile writing a layer"), "OSError: No space left on device"),
    ],
)
def test_an_image_choice_that_raises_fails_its_version_and_the_matrix_goes_on(
    suite: Suite,
    merged: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    error: Exception,
    why: str,
) -> None:
    def choose(choice: str, version: object, client: object) -> str:
        if str(version) == "1.33.13":
            raise error
        return "node:latest"

    monkeypatch.setattr(runner, "choose_node_image", choose)
    with pytest.raises(HarnessError, match=r"^1\.33\.13 did not run: see "):
        runner.matrix(["1.33.13", "1.34.4"], tmp_path, "auto", KIND, [])
    assert suite.ran() == ["1.34.4"]
    assert status(tmp_path / "1.33.13") == f"failed: node image: {why}"
    assert load(tmp_path / "1.33.13").failed  # the merger's red column
    assert status(tmp_path / "1.34.4") == "ran"
    assert len(merged) == 1


def test_an_interrupt_during_the_image_choice_ends_the_matrix(
    suite: Suite, merged: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def choose(choice: str, version: object, client: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "choose_node_image", choose)
    with pytest.raises(KeyboardInterrupt):
        runner.matrix(["1.33.13", "1.34.4"], tmp_path, "auto", KIND, [])
    assert suite.ran() == [] and merged == []


@pytest.mark.parametrize(
    ("code", "written", "why"),
    [
        (2, "ran", "exit code 2 (interrupted)"),
        (3, "ran", "exit code 3 (internal error)"),
        (4, None, "exit code 4 (usage error)"),
        (5, None, "exit code 5 (no tests collected)"),
        (0, None, "exit code 0 (no run.json)"),
        (1, None, "exit code 1 (no run.json)"),
    ],
)
def test_a_suite_that_ended_without_results_gets_a_failed_run_json(
    suite: Suite, tmp_path: Path, code: int, written: str | None, why: str
) -> None:
    suite.codes["1.34.4"], suite.statuses["1.34.4"] = code, written
    _, outcome = runner.run_version("1.34.4", tmp_path, "auto", KIND, [])
    assert outcome == runner.DID_NOT_RUN
    assert status(tmp_path) == f"failed: pytest ended with {why}"


def test_an_earlier_runs_run_json_does_not_stand_for_a_run_that_wrote_none(
    suite: Suite, tmp_path: Path
) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"requested": "1.34.4", "status": "ran"}))
    suite.statuses["1.34.4"] = None
    assert runner.run_version("1.34.4", tmp_path, "auto", KIND, [])[1] == runner.DID_NOT_RUN
    assert status(tmp_path) == "failed: pytest ended with exit code 0 (no run.json)"


@pytest.mark.parametrize(
    ("code", "written", "outcome"),
    [
        (0, "ran", None),
        (1, "ran", runner.TESTS_FAILED),
        (1, "failed: the clusters did not come up", runner.DID_NOT_RUN),
    ],
)
def test_a_finished_suites_outcome_is_its_exit_code_and_its_run_json(
    suite: Suite, tmp_path: Path, code: int, written: str, outcome: str | None
) -> None:
    suite.codes["1.34.4"], suite.statuses["1.34.4"] = code, written
    assert runner.run_version("1.34.4", tmp_path, "auto", KIND, [])[1] == outcome
    assert status(tmp_path) == written


def test_the_matrix_prints_its_times_and_merges_every_result_directory(
    suite: Suite, merged: list[list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = ["1.33.13", "1.34.4", "1.35.4"]
    runner.matrix(versions, tmp_path, "auto", KIND, [])
    assert suite.ran() == versions
    out = capsys.readouterr().out
    for label in [*versions, "total"]:
        assert re.search(rf"^  {re.escape(label)} +\d+\.\d min$", out, re.MULTILINE), label
    assert merged == [["--out", str(tmp_path), *(str(tmp_path / v) for v in versions)]]


def test_a_report_that_cannot_be_written_fails_the_matrix(
    suite: Suite, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(runner.conformance, "main", lambda argv: 1)
    with pytest.raises(HarnessError, match="report could not be written"):
        runner.matrix(["1.34.4"], tmp_path, "auto", KIND, [])


def test_the_matrix_exits_non_zero_after_its_report_when_a_version_failed_or_had_failing_tests(
    suite: Suite, merged: list[list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite.codes = {"1.33.13": 1, "1.34.4": 1, "1.35.4": 4}
    suite.statuses["1.35.4"] = None
    assert runner.main(["matrix", f"--artifacts={tmp_path}", "1.32.5", "1.33.13", "1.34.4", "1.35.4"]) == 1
    html = tmp_path / "conformance.html"
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: tests failed on 1.33.13, 1.34.4; 1.35.4 did not run: see {html}"
    )
    assert len(merged) == 1 and len(merged[0]) == 6  # the report came first, with every column


@pytest.mark.parametrize(("code", "exit_code"), [(0, 0), (1, 1), (5, 1)])
def test_one_version_exits_non_zero_when_its_tests_failed_or_it_did_not_run(
    suite: Suite, tmp_path: Path, code: int, exit_code: int
) -> None:
    suite.codes["1.34.4"] = code
    assert runner.main(["version", f"--result-dir={tmp_path}", "1.34.4"]) == exit_code
    assert (tmp_path / "run.json").is_file()


def test_pytest_args_after_the_double_dash_reach_pytest_intact(suite: Suite, tmp_path: Path) -> None:
    """As the shell split `make conformance PYTEST_ARGS='-k "a or b" -x'`: each its own argument."""
    expression = "mirror and not (forced or 'two words')"
    argv = ["matrix", f"--artifacts={tmp_path}", "1.33.13", "1.34.4", "--", "-k", expression, "-x"]
    assert runner.main(argv) == 0
    assert suite.ran() == ["1.33.13", "1.34.4"]
    assert [command[-3:] for command in suite.commands] == [["-k", expression, "-x"]] * 2
    assert runner.main(["version", f"--result-dir={tmp_path / 'one'}", "1.34.4", "--", "-k", expression]) == 0
    assert suite.commands[-1][-2:] == ["-k", expression]


@pytest.mark.parametrize(
    ("versions", "named"),
    [
        (["1.31.0", "1.34.4", "-k", "test_api_references or test_mirror_pod_is_named"], None),
        (["1.31.0", "or", "test_mirror_pod_is_named"], "'or'"),
        (["1.34.4", "1.99.0"], "1.99.0"),
        (["1.34.4", "1.34.4"], "versions named more than once: 1.34.4"),
    ],
)
def test_every_version_is_checked_before_anything_runs(
    suite: Suite, tmp_path: Path, capsys: pytest.CaptureFixture[str], versions: list[str], named: str | None
) -> None:
    """The words of a -k expression given as versions (the quoting that broke `make conformance`)
    never become result directories: one line names the first bad word, and nothing runs."""
    if named is None:  # "-k" is an option here: argparse's one usage line
        with pytest.raises(SystemExit) as exit_:
            runner.main(["matrix", f"--artifacts={tmp_path}", *versions])
        assert exit_.value.code == 2
    else:
        assert runner.main(["matrix", f"--artifacts={tmp_path}", *versions]) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("error: ") and named in line
    assert suite.commands == [] and list(tmp_path.iterdir()) == []


def test_one_version_is_checked_too(suite: Suite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["version", f"--result-dir={tmp_path / 'mirror'}", "mirror"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "'mirror'" in line and suite.commands == [] and list(tmp_path.iterdir()) == []


class FakePopen:
    """A child pytest whose first wait() is interrupted by Ctrl-C; it exits on SIGTERM unless `stuck`."""

    stuck = False
    made: ClassVar[list[FakePopen]] = []

    def __init__(self, command: list[str]) -> None:
        self.command, self.signals, self.timeouts, self.killed = command, [], [], False
        FakePopen.made.append(self)

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            raise KeyboardInterrupt
        self.timeouts.append(timeout)
        if self.stuck:
            raise subprocess.TimeoutExpired(self.command, timeout)
        return -signal.SIGTERM

    def send_signal(self, signum: int) -> None:
        self.signals.append(signum)

    def kill(self) -> None:
        self.killed = True


@pytest.mark.parametrize("stuck", [False, True])
def test_an_interrupt_during_a_child_run_reaches_it_as_sigterm(
    monkeypatch: pytest.MonkeyPatch, stuck: bool
) -> None:
    monkeypatch.setattr(suite_module.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(FakePopen, "stuck", stuck)
    monkeypatch.setattr(FakePopen, "made", [])
    with pytest.raises(KeyboardInterrupt):
        suite_module.run_suite(["pytest", "tests/e2e"])
    (child,) = FakePopen.made
    assert child.signals == [signal.SIGTERM]
    assert child.timeouts == [scaled(suite_module.INTERRUPT_GRACE)]
    assert child.killed is stuck  # killed only when it outlives its grace to delete its clusters
