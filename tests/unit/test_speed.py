"""`make speed` (harness.tools.speed): its figures against the targets, with no cluster."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from harness.tools import speed


def args(**changes: object) -> argparse.Namespace:
    base = dict(k8s_version="1.34.4", node_image="img:1", kind_config="single-node", kind_bin=Path("kind"))
    return argparse.Namespace(**{**base, "jobs": 4, **changes})


class Suite:
    """Stands in for the child pytest: takes `seconds`, writes claims.json with `verdicts`, and exits
    with its run's code in `codes` (0 when not named)."""

    def __init__(
        self,
        runs: dict[str, tuple[float, dict[str, str]]],
        clock: list[float],
        codes: dict[str, int] | None = None,
    ) -> None:
        self.runs, self.clock, self.codes = runs, clock, codes or {}

    def __call__(self, command: list[str]) -> int:
        directory = Path(next(a.split("=", 1)[1] for a in command if a.startswith("--sph-artifacts-dir=")))
        seconds, verdicts = self.runs[directory.name]
        self.clock[0] += seconds
        rows = [{"claim": claim, "verdict": verdict} for claim, verdict in verdicts.items()]
        (directory / "claims.json").write_text(json.dumps({"claims": rows}))
        return self.codes.get(directory.name, 0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(speed.time, "monotonic", lambda: now[0])
    return now


def test_the_parallel_run_meets_its_target_only_with_the_same_verdicts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: list[float]
) -> None:
    runs = {"serial": (1000.0, {"S1": "confirmed"}), "parallel": (390.0, {"S1": "inconclusive"})}
    monkeypatch.setattr(speed, "run_suite", Suite(runs, clock))
    serial, parallel, verdicts = speed.suite(args(), tmp_path)
    assert (serial.value, serial.met) == ("16.7 min (pytest exit 0)", None)
    assert parallel.value == "6.5 min (pytest exit 0): 39% of serial" and parallel.met
    assert (verdicts.value, verdicts.met) == ("S1: confirmed -> inconclusive", False)


def test_a_parallel_run_that_failed_does_not_meet_its_target_however_fast(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: list[float]
) -> None:
    runs = {"serial": (1000.0, {"S1": "confirmed"}), "parallel": (300.0, {"S1": "confirmed"})}
    monkeypatch.setattr(speed, "run_suite", Suite(runs, clock, codes={"parallel": 1}))
    _, parallel, verdicts = speed.suite(args(), tmp_path)
    assert parallel.value == "5.0 min (pytest exit 1): 30% of serial"
    assert parallel.met is False
    assert verdicts.met is False


def test_the_warm_budget_leaves_out_the_deliberate_waits_the_tests_recorded(tmp_path: Path) -> None:
    case = '<testcase name="{}"><properties><property name="deliberate_wait" value="{}"/></properties>'
    case += "</testcase>"
    cases = case.format("a", "20.5") + case.format("b", "9.5") + '<testcase name="c"/>'
    (tmp_path / "junit.xml").write_text(f"<testsuites><testsuite>{cases}</testsuite></testsuites>")
    assert speed._recorded_deliberate(tmp_path / "junit.xml") == 30.0


def test_figures_are_written_as_a_table(tmp_path: Path) -> None:
    figures = [speed.Figure("cluster creation", "1.02x", "<= 1.05x", True), speed.Figure("x", "y", "", None)]
    text = speed.write(tmp_path, figures, "2 cores, 24 GiB")
    assert "| cluster creation | 1.02x | <= 1.05x | yes |" in text and "| x | y |  |  |" in text
    assert json.loads((tmp_path / "speed.json").read_text())["figures"][0]["met"] is True


def test_an_unknown_step_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        speed.main(["--steps", "creation,fast"])
    error = capsys.readouterr().err
    assert "SPEED_STEPS takes creation,suite,warm (any of them), not 'creation,fast'" in error
