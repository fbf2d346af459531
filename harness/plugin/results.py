"""What happened to each test, for the claims report: registered as a plugin object per run.

Outcomes come from test reports (which pytest-xdist forwards to the controller) and claims from
their user_properties, so the report is built from results, never from live items. A test that
never reported (the run was interrupted) is "not run"; a deselected one is listed with why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.reports.claims import ClaimsReport, RunInfo

Properties = list[tuple[str, object]]


class RunResults:
    def __init__(self, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir
        self.outcomes: dict[str, tuple[str, str, Properties]] = {}
        self.deselected: dict[str, tuple[str, Properties]] = {}
        self.interrupted = False
        self.called: set[str] = set()  # tests whose call phase reported (an interrupt leaves none)

    def deselect(self, item: pytest.Item, reason: str) -> None:
        self.deselected.setdefault(item.nodeid, (reason, list(item.user_properties)))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:  # ours are recorded with their reason before this runs
            self.deselect(item, "deselected by -k/-m")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """A run with claim tests first removes the previous claims report: it never looks current."""
        if not session.config.option.collectonly and any(
            key == "claim" for item in session.items for key, _ in item.user_properties
        ):
            ClaimsReport.remove(self.artifacts_dir)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A failed call is "failed", a failed setup or teardown an "error", a skip "skipped";
        the first outcome that is not "passed" is the test's."""
        if report.when == "call":
            self.called.add(report.nodeid)
        previous = self.outcomes.get(report.nodeid)
        if previous is not None and previous[0] != "passed":
            return
        if report.passed:
            if previous is None:
                self.outcomes[report.nodeid] = ("passed", "", list(report.user_properties))
            return
        outcome = "skipped" if report.skipped else "failed" if report.when == "call" else "error"
        self.outcomes[report.nodeid] = (outcome, _reason(report), list(report.user_properties))

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        report, not_run = ClaimsReport(), 0
        for item in session.items:
            outcome, reason, properties = self.outcomes.get(
                item.nodeid, ("not run", "", item.user_properties)
            )
            if outcome == "passed" and item.nodeid not in self.called:  # set up, then interrupted
                outcome = "not run"
            not_run += outcome == "not run"
            report.add(item.nodeid, outcome, reason or "the run ended before it", list(properties))
        for nodeid, (reason, properties) in self.deselected.items():
            report.add(nodeid, "deselected", reason, properties)
        if not any(report.by_test.values()):
            return
        seen = [prop for _, _, properties in self.outcomes.values() for prop in properties]
        report.write(
            self.artifacts_dir,
            RunInfo(
                kubernetes=sorted({str(value) for key, value in seen if key == "kubernetes"}),
                kubelets=sorted({v for key, value in seen if key == "kubelets" for v in str(value).split()}),
                partial=self.interrupted or not_run > 0,
                deselected=[f"{nodeid}: {reason}" for nodeid, (reason, _) in self.deselected.items()],
            ),
        )


def _reason(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message if crash is not None else report.longreprtext
