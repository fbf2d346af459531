"""`make soak N=10`: the e2e suite N times, and which tests are stable, flaky or failing.

    python -m harness.tools.soak -n N --artifacts DIR -- PYTEST_ARGS...

Each round is a whole run of the suite in a child pytest, on fresh clusters (the run makes its
own and deletes them), into DIR/round-K/ (junit.xml, claims, diagnostics of failures). After
every round DIR/soak.md and DIR/soak.json are written again, so an interrupted soak still
reports the rounds it finished. A test is "stable" when it passed in every round that ran it,
"flaky" when it passed in some and not in others, "failing" when it never passed, "skipped" when
every round skipped it (so nothing shows it stable); each round's wall time and counts are listed.
The exit status is non-zero when any test was not stable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import cli
from harness.errors import HarnessError
from harness.interrupts import handle_interrupts
from harness.reports.conformance import junit_outcomes
from harness.tools.suite import pytest_command, run_suite

STABLE, FLAKY, FAILING, SKIPPED = "stable", "flaky", "failing", "skipped"
VERDICTS = (STABLE, FLAKY, FAILING, SKIPPED)


@dataclass
class Round:
    number: int
    seconds: float
    exit_code: int
    outcomes: dict[str, tuple[str, str]]  # node id -> (outcome, one-line message)


@dataclass
class TestHistory:
    outcomes: list[str] = field(default_factory=list)  # one per round that ran it
    first_problem: str = ""

    @property
    def verdict(self) -> str:
        ran = [o for o in self.outcomes if o != "skipped"]
        if not ran:
            return SKIPPED
        if all(o == "passed" for o in ran):
            return STABLE
        return FLAKY if "passed" in ran else FAILING


def run_round(number: int, artifacts: Path, pytest_args: list[str]) -> Round:
    directory = artifacts / f"round-{number}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "junit.xml").unlink(missing_ok=True)  # an earlier soak's must not stand for this one
    command = pytest_command(directory, *pytest_args)
    print(f"[soak] round {number}: {' '.join(command[3:])}", flush=True)
    start = time.monotonic()
    code = run_suite(command)
    seconds = time.monotonic() - start
    found = junit_outcomes(directory) if (directory / "junit.xml").is_file() else {}
    return Round(number, seconds, code, {t: (c.result, c.message) for t, c in found.items()})


def histories(rounds: list[Round]) -> dict[str, TestHistory]:
    tests: dict[str, TestHistory] = {}
    for one in rounds:
        for test, (outcome, message) in one.outcomes.items():
            history = tests.setdefault(test, TestHistory())
            history.outcomes.append(outcome)
            if outcome not in ("passed", "skipped") and not history.first_problem:
                history.first_problem = f"round {one.number}: {message}"
    return tests


def render_markdown(rounds: list[Round], tests: dict[str, TestHistory], asked: int) -> str:
    counts = {v: sum(h.verdict == v for h in tests.values()) for v in VERDICTS}
    lines = [
        f"# Soak: {len(rounds)} of {asked} rounds",
        "",
        f"{len(tests)} tests: {counts[STABLE]} stable, {counts[FLAKY]} flaky, {counts[FAILING]} failing, "
        f"{counts[SKIPPED]} skipped in every round.",
        "",
        "| round | wall time | passed | not passed | pytest exit |",
        "|---|---|---|---|---|",
    ]
    for one in rounds:
        passed = sum(o == "passed" for o, _ in one.outcomes.values())
        lines.append(
            f"| {one.number} | {one.seconds / 60:.1f} min | {passed} | {len(one.outcomes) - passed} "
            f"| {one.exit_code} |"
        )
    lines += ["", "| test | verdict | passed | rounds | first problem |", "|---|---|---|---|---|"]
    order = {FAILING: 0, FLAKY: 1, SKIPPED: 2, STABLE: 3}
    for test, history in sorted(tests.items(), key=lambda item: (order[item[1].verdict], item[0])):
        passed = history.outcomes.count("passed")
        problem = history.first_problem.replace("|", "\\|")
        lines.append(f"| `{test}` | {history.verdict} | {passed} | {len(history.outcomes)} | {problem} |")
    return "\n".join(lines) + "\n"


def write_report(artifacts: Path, rounds: list[Round], asked: int) -> dict[str, TestHistory]:
    tests = histories(rounds)
    (artifacts / "soak.md").write_text(render_markdown(rounds, tests, asked))
    data = {
        "rounds_asked": asked,
        "rounds": [
            {"round": r.number, "seconds": round(r.seconds, 1), "exit_code": r.exit_code} for r in rounds
        ],
        "tests": {
            test: {"verdict": h.verdict, "outcomes": h.outcomes, "first_problem": h.first_problem}
            for test, h in sorted(tests.items())
        },
    }
    (artifacts / "soak.json").write_text(json.dumps(data, indent=2) + "\n")
    return tests


def soak(rounds: int, artifacts: Path, pytest_args: list[str]) -> None:
    artifacts.mkdir(parents=True, exist_ok=True)
    done: list[Round] = []
    for number in range(1, rounds + 1):
        done.append(run_round(number, artifacts, pytest_args))
        tests = write_report(artifacts, done, rounds)
        print(f"[soak] round {number}: {done[-1].seconds / 60:.1f} min; report: {artifacts / 'soak.md'}")
    print((artifacts / "soak.md").read_text(), flush=True)
    unstable = [t for t, h in tests.items() if h.verdict in (FLAKY, FAILING)]
    skipped = [t for t, h in tests.items() if h.verdict == SKIPPED]
    no_results = [str(r.number) for r in done if not r.outcomes]
    if no_results:
        raise HarnessError(f"round(s) {', '.join(no_results)} ended without results: see their output above")
    problems = [f"{len(unstable)} test(s) not stable"] if unstable else []
    problems += [f"{len(skipped)} test(s) skipped in every round, so not shown stable"] if skipped else []
    if problems:
        raise HarnessError(f"{'; '.join(problems)} in {len(done)} rounds: see {artifacts / 'soak.md'}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tools.soak")
    parser.add_argument("-n", type=cli.rounds("N"), default=10, help="rounds (N)")
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts/soak"))
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then the suite's pytest arguments")
    args = parser.parse_args(argv)
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    handle_interrupts()
    return cli.run(lambda: soak(args.n, args.artifacts, pytest_args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
