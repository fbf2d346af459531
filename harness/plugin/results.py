"""What happened to each test, for the claims report and run.json: a plugin object per run.

Outcomes come from test reports (which pytest-xdist forwards to the controller) and claims from
their user_properties, so the report is built from results, never from live items. A test that
never reported (the run was interrupted) is "not run"; a deselected one is listed with why.

run.json says what the run was (the version asked for, the versions the clusters reported, kind,
the node image, whether its clusters came up, how long it took): with junit.xml and claims.json it
makes the run's directory the result directory that conformance reports merge.

Under pytest-xdist each worker has a RunResults too: what only a worker sees (tests deselected by
-k/-m, a session fixture's provisioning failure) goes to its controller in `workeroutput`, and the
controller, which sees every test report, writes the report. The controller has no items: it learns
every collected test's id from its workers' collection, and each test's claims from the file the
workers write as they collect (parallel.py), so that a test a worker collected but never reported
(--maxfail, a crashed or stopped worker) is "not run" and its claims inconclusive.

The versions the clusters report also go onto junit.xml's testsuite (for CI dashboards), once,
from the first report naming them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from _pytest.junitxml import xml_key  # where record_testsuite_property finds junit.xml's writer

from harness.plugin import parallel
from harness.reports.claims import ClaimsReport, RunInfo
from harness.reports.runfile import write_run
from harness.versions import KIND_VERSION

Properties = list[tuple[str, object]]
# The workeroutput key of what a worker's RunResults hands its controller.
WORKER_RESULTS = "static_pod_harness_results"
# Test properties that also go onto junit.xml's testsuite.
SUITE_PROPERTIES = ("kubernetes", "node_image")


class RunResults:
    def __init__(self, config: pytest.Config, artifacts_dir: Path, requested: str) -> None:
        self.config = config
        self.worker_output: dict[str, object] | None = getattr(config, "workeroutput", None)
        self.suite_properties_recorded = False
        self.artifacts_dir = artifacts_dir
        self.requested = requested
        self.started = time.monotonic()
        self.cluster_failures: list[str] = []  # provisioning errors, one line each
        self.outcomes: dict[str, tuple[str, str, Properties]] = {}
        self.deselected: dict[str, tuple[str, Properties]] = {}
        self.interrupted = False
        self.called: set[str] = set()  # tests whose call phase reported (an interrupt leaves none)
        self.collection_errors: list[str] = []
        self.collected: dict[
            str, None
        ] = {}  # on an xdist controller: the ids its workers collected, in order

    def deselect(self, item: pytest.Item, reason: str) -> None:
        self.deselected.setdefault(item.nodeid, (reason, list(item.user_properties)))

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:  # ours are recorded with their reason before this runs
            self.deselect(item, "deselected by -k/-m")

    def start(self, *, collect_only: bool) -> None:
        """A run whose tests use clusters starts by removing the previous report, so that it never
        looks current (runs that use none leave the artifacts directory alone)."""
        if not collect_only:
            ClaimsReport.remove(self.artifacts_dir)
            (self.artifacts_dir / "run.json").unlink(missing_ok=True)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A file that could not be collected takes its claim tests with it: the run is partial."""
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: not collected ({_reason(report)})")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A failed call is "failed", a failed setup or teardown an "error", a skip "skipped";
        the first outcome that is not "passed" is the test's."""
        if report.when == "call":
            self.called.add(report.nodeid)
        self._record_suite_properties(report.user_properties)
        previous = self.outcomes.get(report.nodeid)
        if previous is not None and previous[0] != "passed":
            return
        if report.passed:  # a later phase's report carries what the earlier phases added, and more
            self.outcomes[report.nodeid] = ("passed", "", list(report.user_properties))
            return
        outcome = "skipped" if report.skipped else "failed" if report.when == "call" else "error"
        self.outcomes[report.nodeid] = (outcome, _reason(report), list(report.user_properties))

    def _record_suite_properties(self, properties: Properties) -> None:
        found = {key: str(value) for key, value in properties if key in SUITE_PROPERTIES}
        xml = self.config.stash.get(xml_key, None)  # pytest's junitxml, when --junitxml is given
        if self.suite_properties_recorded or len(found) < len(SUITE_PROPERTIES) or xml is None:
            return
        self.suite_properties_recorded = True
        for key, value in [*found.items(), ("kind", KIND_VERSION)]:
            xml.add_global_property(key, value)  # what record_testsuite_property does, on a controller too

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """On an xdist worker: each collected test's properties (its claims), for the controller."""
        if self.worker_output is not None:
            parallel.write_collected(
                self.config, {item.nodeid: list(item.user_properties) for item in session.items}
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """On an xdist controller: the tests a worker collected (every worker collects the same)."""
        self.collected.update(dict.fromkeys(ids))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """An xdist worker ended: take what only it saw."""
        shipped = getattr(node, "workeroutput", {}).get(WORKER_RESULTS) or {}
        for nodeid, (reason, properties) in shipped.get("deselected", {}).items():
            self.deselected.setdefault(nodeid, (reason, [tuple(p) for p in properties]))
        self.cluster_failures += shipped.get("cluster_failures", [])

    def pytest_keyboard_interrupt(self) -> None:
        self.interrupted = True

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.config.option.collectonly:
            return
        if self.worker_output is not None:  # an xdist worker: its controller writes the report
            self.worker_output[WORKER_RESULTS] = {
                "deselected": {
                    nodeid: [reason, props] for nodeid, (reason, props) in self.deselected.items()
                },
                "cluster_failures": self.cluster_failures,
            }
            return
        expected = {item.nodeid: list(item.user_properties) for item in session.items}
        collected = parallel.collected_properties(self.config)  # an xdist controller has no items
        for nodeid in self.collected:
            expected[nodeid] = collected.get(nodeid, [])
        for nodeid in self.outcomes.keys() - expected.keys():
            expected[nodeid] = self.outcomes[nodeid][2]
        report, not_run = ClaimsReport(), 0
        for nodeid, properties in expected.items():
            outcome, reason, properties = self.outcomes.get(nodeid, ("not run", "", properties))
            if outcome == "passed" and nodeid not in self.called:  # set up, then interrupted
                outcome = "not run"
            if outcome == "not run":
                not_run += 1
                reason = reason or "the run ended before it"
            report.add(nodeid, outcome, reason, properties)
        for nodeid, (reason, properties) in self.deselected.items():
            report.add(nodeid, "deselected", reason, properties)
        seen = [prop for _, _, properties in self.outcomes.values() for prop in properties]
        info = RunInfo(
            kubernetes=sorted({str(value) for key, value in seen if key == "kubernetes"}),
            kubelets=sorted({v for key, value in seen if key == "kubelets" for v in str(value).split()}),
            partial=self.interrupted or not_run > 0 or bool(self.collection_errors),
            deselected=[f"{nodeid}: {reason}" for nodeid, (reason, _) in self.deselected.items()]
            + self.collection_errors,
        )
        if info.kubernetes or self.cluster_failures:
            self._write_run(info, sorted({str(value) for key, value in seen if key == "node_image"}))
        if any(report.by_test.values()):
            report.write(self.artifacts_dir, info)
            summary = os.environ.get("GITHUB_STEP_SUMMARY")
            if summary:  # GitHub Actions shows it on the run's page
                with open(summary, "a") as out:
                    out.write((self.artifacts_dir / "claims.md").read_text() + "\n")

    def _write_run(self, info: RunInfo, node_images: list[str]) -> None:
        failed = "; ".join(dict.fromkeys(self.cluster_failures))
        write_run(
            self.artifacts_dir,
            requested=self.requested,
            kubernetes=info.kubernetes,
            kubelets=info.kubelets,
            node_image="; ".join(node_images),  # a described image has spaces of its own
            # Clusters that came up make a column of results; none at all, a failed column.
            status=f"failed: {failed}" if failed and not info.kubernetes else "ran",
            partial=info.partial,
            seconds=time.monotonic() - self.started,
        )


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message if crash is not None else report.longreprtext
