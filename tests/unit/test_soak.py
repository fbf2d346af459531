"""`make soak` (harness.tools.soak): rounds of the suite, reported per test, with no cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.tools import soak

CASE = '<testcase classname="tests.e2e.test_x" name="{name}">{child}</testcase>'
FAILURE = '<failure message="mirror missing">trace</failure>'


class Suite:
    """Stands in for the child pytest: writes each round's junit.xml from a script of outcomes."""

    def __init__(self, script: list[dict[str, bool]]) -> None:
        self.script, self.commands = script, []

    def __call__(self, command: list[str]) -> int:
        self.commands.append(command)
        directory = Path(next(a.split("=", 1)[1] for a in command if a.startswith("--artifacts-dir=")))
        outcomes = self.script[len(self.commands) - 1]
        cases = "".join(CASE.format(name=n, child="" if ok else FAILURE) for n, ok in outcomes.items())
        (directory / "junit.xml").write_text(f"<testsuites><testsuite>{cases}</testsuite></testsuites>")
        return 0 if all(outcomes.values()) else 1


@pytest.fixture
def suite(monkeypatch: pytest.MonkeyPatch) -> Suite:
    fake = Suite(
        [
            {"test_steady": True, "test_sometimes": True, "test_never": False},
            {"test_steady": True, "test_sometimes": False, "test_never": False},
            {"test_steady": True, "test_sometimes": True, "test_never": False},
        ]
    )
    monkeypatch.setattr(soak, "run_suite", fake)
    return fake


def test_each_test_is_stable_flaky_or_failing_over_the_rounds(suite: Suite, tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"2 test\(s\) not stable in 3 rounds"):
        soak.soak(3, tmp_path, ["tests/e2e", "-n", "4"])
    data = json.loads((tmp_path / "soak.json").read_text())
    verdicts = {test: entry["verdict"] for test, entry in data["tests"].items()}
    assert verdicts == {
        "tests/e2e/test_x.py::test_steady": "stable",
        "tests/e2e/test_x.py::test_sometimes": "flaky",
        "tests/e2e/test_x.py::test_never": "failing",
    }
    assert data["tests"]["tests/e2e/test_x.py::test_sometimes"]["first_problem"] == "round 2: mirror missing"
    assert [r["exit_code"] for r in data["rounds"]] == [1, 1, 1]
    markdown = (tmp_path / "soak.md").read_text()
    assert "3 tests: 1 stable, 1 flaky, 1 failing." in markdown
    assert markdown.index("test_never") < markdown.index("test_sometimes") < markdown.index("test_steady")


def test_every_round_gets_a_directory_of_its_own_and_the_same_pytest_arguments(
    suite: Suite, tmp_path: Path
) -> None:
    with pytest.raises(HarnessError):
        soak.soak(2, tmp_path, ["tests/e2e", "-n", "4"])
    for number, command in enumerate(suite.commands, start=1):
        assert command[-3:] == ["tests/e2e", "-n", "4"]
        assert f"--artifacts-dir={tmp_path / f'round-{number}'}" in command


def test_a_round_without_results_is_said_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(soak, "run_suite", lambda command: 4)  # a usage error: no junit.xml
    with pytest.raises(HarnessError, match=r"round\(s\) 1 ended without results"):
        soak.soak(1, tmp_path, ["tests/e2e"])


def test_bad_n_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        soak.main(["-n", "0"])
    assert "N must be a whole number of rounds >= 1, not '0'" in capsys.readouterr().err
