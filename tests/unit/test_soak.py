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

    def __init__(self, script: list[dict[str, str]]) -> None:  # test -> its junit child ("" passed)
        self.script, self.commands = script, []

    def __call__(self, command: list[str]) -> int:
        self.commands.append(command)
        directory = Path(next(a.split("=", 1)[1] for a in command if a.startswith("--sph-artifacts-dir=")))
        outcomes = self.script[len(self.commands) - 1]
        cases = "".join(CASE.format(name=n, child=child) for n, child in outcomes.items())
        (directory / "junit.xml").write_text(f"<testsuites><testsuite>{cases}</testsuite></testsuites>")
        return 1 if any(outcomes.values()) else 0


@pytest.fixture
def suite(monkeypatch: pytest.MonkeyPatch) -> Suite:
    fake = Suite(
        [
            {"test_steady": "", "test_sometimes": "", "test_never": FAILURE},
            {"test_steady": "", "test_sometimes": FAILURE, "test_never": FAILURE},
            {"test_steady": "", "test_sometimes": "", "test_never": FAILURE},
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
    assert "3 tests: 1 stable, 1 flaky, 1 failing, 0 skipped in every round." in markdown
    assert markdown.index("test_never") < markdown.index("test_sometimes") < markdown.index("test_steady")


def test_every_round_gets_a_directory_of_its_own_and_the_same_pytest_arguments(
    suite: Suite, tmp_path: Path
) -> None:
    with pytest.raises(HarnessError):
        soak.soak(2, tmp_path, ["tests/e2e", "-n", "4"])
    for number, command in enumerate(suite.commands, start=1):
        assert command[-3:] == ["tests/e2e", "-n", "4"]
        assert f"--sph-artifacts-dir={tmp_path / f'round-{number}'}" in command


SKIP = '<skipped message="no terminal">why</skipped>'


def test_a_test_skipped_in_every_round_is_not_stable_and_fails_the_soak(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Skipped every time is no evidence: its own verdict, and a non-zero exit; skipped in some rounds
    and passed in the others stays stable."""
    fake = Suite(
        [
            {"test_steady": "", "test_never_ran": SKIP, "test_once": SKIP},
            {"test_steady": "", "test_never_ran": SKIP, "test_once": ""},
        ]
    )
    monkeypatch.setattr(soak, "run_suite", fake)
    monkeypatch.setattr(soak, "handle_interrupts", lambda: None)

    assert soak.main(["-n", "2", "--artifacts", str(tmp_path), "--", "tests/e2e"]) != 0

    verdicts = {t: e["verdict"] for t, e in json.loads((tmp_path / "soak.json").read_text())["tests"].items()}
    assert verdicts == {
        "tests/e2e/test_x.py::test_steady": "stable",
        "tests/e2e/test_x.py::test_never_ran": "skipped",
        "tests/e2e/test_x.py::test_once": "stable",
    }
    markdown = (tmp_path / "soak.md").read_text()
    assert "3 tests: 2 stable, 0 flaky, 0 failing, 1 skipped in every round." in markdown
    monkeypatch.setattr(soak, "run_suite", Suite([{"test_never_ran": SKIP}]))
    with pytest.raises(
        HarnessError, match=r"^1 test\(s\) skipped in every round, so not shown stable in 1 rounds"
    ):
        soak.soak(1, tmp_path, ["tests/e2e"])


def test_a_round_without_results_is_said_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(soak, "run_suite", lambda command: 4)  # a usage error: no junit.xml
    with pytest.raises(HarnessError, match=r"round\(s\) 1 ended without results"):
        soak.soak(1, tmp_path, ["tests/e2e"])


def test_bad_n_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        soak.main(["-n", "0"])
    assert "N must be a whole number of rounds >= 1, not '0'" in capsys.readouterr().err
