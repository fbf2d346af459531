"""Parallel runs (harness.plugin.parallel) through real pytest-xdist workers, with no cluster: the tests
here use the plugin's settings fixture only, which makes them the plugin's tests."""

from __future__ import annotations

import json
import signal
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.plugin import parallel
from harness.waiting import poll_until

# Each test writes which worker ran it; the multi-node ones carry a claim.
SPREAD = """
import os
from pathlib import Path
import pytest

from harness.plugin import parallel
from harness.waiting import poll_until

def ran(name):
    Path(name).write_text(os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.kind_config("multi-node")
@pytest.mark.claim("S17", "confirmed")
def test_workers_a(static_pod_settings): ran("a")

@pytest.mark.kind_config("multi-node")
def test_workers_b(static_pod_settings): ran("b")

@pytest.mark.kind_config("multi-node")
@pytest.mark.parametrize("case", ["x@y"])
def test_workers_c(static_pod_settings, case): ran("c")

@pytest.mark.parametrize("n", range(6))
def test_default(static_pod_settings, n): ran(f"default{n}")
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    """An inner pytest in its own processes, writing its reports into artifacts/."""
    artifacts = pytester.path / "artifacts"
    reports = (f"--sph-artifacts-dir={artifacts}", f"--junitxml={artifacts}/junit.xml")
    return pytester.runpytest_subprocess(*args, *reports), artifacts


def claim_tests(artifacts: Path, claim: str) -> list[tuple[str, str]]:
    """(test, outcome) of each test behind `claim` in artifacts/claims.json."""
    rows = json.loads((artifacts / "claims.json").read_text())["claims"]
    return [(t["test"], t["outcome"]) for row in rows if row["claim"] == claim for t in row["tests"]]


def test_a_kind_configs_tests_share_one_worker_and_reports_name_them_as_serial_runs_do(
    pytester: pytest.Pytester, kind_bin: str
) -> None:
    pytester.makepyfile(test_spread=SPREAD)
    result, artifacts = run(pytester, "-n", "3", kind_bin)
    result.assert_outcomes(passed=9)
    workers = {name: (pytester.path / name).read_text() for name in ["a", "b", "c"]}
    assert len(set(workers.values())) == 1, workers
    names = [case.get("name") for case in ET.parse(artifacts / "junit.xml").iter("testcase")]
    assert len(names) == 9 and "test_workers_c[x@y]" in names, names
    assert claim_tests(artifacts, "S17") == [("test_spread.py::test_workers_a", "passed")]


def test_reusing_one_cluster_with_parallel_workers_is_one_usage_line(
    pytester: pytest.Pytester, kind_bin: str
) -> None:
    pytester.makepyfile(test_spread=SPREAD)
    result = pytester.runpytest_subprocess("-n", "2", kind_bin, "--sph-reuse-cluster=mine")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [
        "ERROR: --sph-reuse-cluster mine is one cluster, and parallel workers each need clusters of "
        "their own: drop -n (JOBS) or --sph-reuse-cluster"
    ], result.stderr.str()


NAMED = """
from pathlib import Path

def test_named(static_pod_settings):
    Path("cluster-name").write_text(static_pod_settings.cluster_name)
"""


@pytest.mark.parametrize("jobs, name", [(["-n", "1"], "static-pods-gw0"), ([], "static-pods")])
def test_a_workers_clusters_carry_its_id_and_a_child_pytest_of_a_worker_does_not_inherit_it(
    pytester: pytest.Pytester, kind_bin: str, monkeypatch: pytest.MonkeyPatch, jobs: list[str], name: str
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")  # as in a child pytest that a test on gw7 started
    pytester.makepyfile(test_named=NAMED)
    pytester.runpytest_subprocess(*jobs, kind_bin).assert_outcomes(passed=1)
    assert (pytester.path / "cluster-name").read_text() == name


@pytest.mark.parametrize("existed, removed", [(False, True), (True, False), (None, False)])
def test_the_controller_removes_kinds_network_only_when_the_run_made_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, existed: bool | None, removed: bool
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(parallel, "_kind_network_exists", lambda: existed)
    monkeypatch.setattr(parallel, "docker_client", lambda: "docker")
    monkeypatch.setattr(parallel, "remove_kind_network", lambda client: calls.append(client))
    monkeypatch.setattr(parallel, "handle_interrupts", lambda: None)  # this process keeps its handlers
    monkeypatch.setattr(parallel, "on_interrupt", lambda cleanup: None)
    controller = parallel.Controller(pytester.parseconfig())
    controller.groups_file.write_text("{}")  # what workers whose tests use clusters write
    controller.pytest_xdist_node_collection_finished(node=None, ids=[])
    controller.pytest_unconfigure(controller.config)
    assert calls == (["docker"] if removed else [])
    assert not controller.directory.exists()


def test_a_parallel_suite_that_uses_no_cluster_is_left_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    def untouched() -> None:
        raise AssertionError("Docker asked about kind's network in a run that uses no cluster")

    monkeypatch.setattr(parallel, "_kind_network_exists", untouched)
    monkeypatch.setattr(parallel, "handle_interrupts", untouched)
    pytester.makepyfile(test_plain="def test_one(): pass\ndef test_two(): pass\n")
    pytester.runpytest_inprocess("-n", "2").assert_outcomes(passed=2)


REPORTED = """
import pytest

@pytest.fixture
def cluster(request, static_pod_settings):
    # What kind_cluster_ready puts on the tests it hands a cluster to.
    request.node.user_properties += [("kubernetes", "v1.34.4"), ("node_image", "img:1")]

@pytest.mark.claim("S6", "confirmed")
def test_kept(cluster): pass

@pytest.mark.claim("S8", "confirmed")
def test_left_out(cluster): pass
"""


def test_a_parallel_run_reports_deselected_tests_and_the_versions_as_a_serial_run_does(
    pytester: pytest.Pytester, kind_bin: str
) -> None:
    pytester.makepyfile(test_reported=REPORTED)
    result, artifacts = run(pytester, "-n", "2", "-k", "kept", kind_bin)
    result.assert_outcomes(passed=1)
    assert claim_tests(artifacts, "S8") == [("test_reported.py::test_left_out", "deselected")]
    suite = {p.get("name"): p.get("value") for p in ET.parse(artifacts / "junit.xml").iter("property")}
    assert (suite["kubernetes"], suite["node_image"]) == ("v1.34.4", "img:1") and "kind" in suite


STOPPED_EARLY = """
import time
import pytest

@pytest.mark.claim("S6", "confirmed")
def test_fails(): assert False, "forced"

@pytest.mark.claim("S7", "confirmed")
@pytest.mark.parametrize("n", range(8))
def test_later(n): time.sleep(1)
"""


def test_tests_a_parallel_run_collected_but_never_ran_are_not_run_and_their_claims_inconclusive(
    pytester: pytest.Pytester,
) -> None:
    """--maxfail stops the workers before most tests ran: the controller, which has no items, still
    lists every test the workers collected, and their claims cannot read confirmed."""
    pytester.makepyfile(test_stopped=STOPPED_EARLY)
    result, artifacts = run(pytester, "-n", "2", "--maxfail=1", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    s7 = next(r for r in json.loads((artifacts / "claims.json").read_text())["claims"] if r["claim"] == "S7")
    tests = {t["test"]: (t["outcome"], t["reason"]) for t in s7["tests"]}
    assert sorted(tests) == [f"test_stopped.py::test_later[{n}]" for n in range(8)]
    not_run = [test for test, (outcome, _) in tests.items() if outcome == "not run"]
    assert not_run, "every test ran: the run stopped too late to show anything"
    assert {tests[test] for test in not_run} == {("not run", "the run ended before it")}
    assert {tests[test] for test in tests.keys() - not_run} <= {("passed", "")}
    assert s7["verdict"] == "inconclusive"
    assert json.loads((artifacts / "claims.json").read_text())["partial"] is True


BLOCKS = """
import threading
from pathlib import Path
from harness.interrupts import handle_interrupts, on_interrupt

def test_blocks(static_pod_settings):
    handle_interrupts()  # as the provisioner does once it makes clusters
    on_interrupt(lambda: Path("cleaned-up").touch())
    Path("blocking").touch()
    threading.Event().wait(60)
"""


def test_sigterm_to_the_controller_reaches_the_workers_clean_up(
    pytester: pytest.Pytester, kind_bin: str
) -> None:
    pytester.makepyfile(test_blocks=BLOCKS)
    child = pytester.popen([sys.executable, "-m", "pytest", "-n", "1", "-p", "no:cacheprovider", kind_bin])
    try:
        poll_until(lambda: (pytester.path / "blocking").exists(), timeout=60, expected="the worker blocking")
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    finally:
        child.kill()
    assert (pytester.path / "cleaned-up").exists()
