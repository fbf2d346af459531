"""The claims report a run writes (harness.plugin.results), through the plugin, with no cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.versions import DEFAULT_K8S_VERSION, KIND_VERSION

CLAIMED = """
import pytest

@pytest.fixture
def broken_setup():
    raise RuntimeError("setup broke")

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown broke")

@pytest.mark.claim("S6", "confirmed")
def test_s6_passes(): pass

@pytest.mark.claim("S6", "confirmed")
def test_s6_fails(): assert False, "mirror missing"

@pytest.mark.claim("S7", "confirmed")
def test_s7_skips(): pytest.skip("no node")

@pytest.mark.claim("S8", "refuted", "kept as edited")
def test_s8_passes(): pass

@pytest.mark.claim("S10", "confirmed")
def test_s10_setup_error(broken_setup): pass

@pytest.mark.claim("S12", "confirmed")
def test_s12_teardown_error(broken_teardown): pass
"""

INTERRUPTED = """
import pytest

@pytest.mark.claim("S6", "confirmed")
def test_first(): pass

@pytest.mark.claim("S7", "confirmed")
def test_interrupted(): raise KeyboardInterrupt

@pytest.mark.claim("S8", "confirmed")
def test_after(): pass
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    """The inner run, in process; its KeyboardInterrupt is its own result, not ours."""
    artifacts = pytester.path / "artifacts"
    result = pytester.runpytest(
        "--sph-artifacts-dir", str(artifacts), "-p", "no:cacheprovider", *args, no_reraise_ctrlc=True
    )
    return result, artifacts


def claims(artifacts: Path) -> dict[str, Any]:
    return json.loads((artifacts / "claims.json").read_text())


def row(report: dict[str, Any], claim: str) -> dict[str, Any]:
    return next(r for r in report["claims"] if r["claim"] == claim)


def outcomes(report: dict[str, Any], claim: str) -> dict[str, str]:
    return {t["test"].split("::")[-1]: t["outcome"] for t in row(report, claim)["tests"]}


def test_outcomes_and_verdicts_of_a_full_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_claimed=CLAIMED)
    result, artifacts = run(pytester)
    result.assert_outcomes(passed=3, failed=1, skipped=1, errors=2)
    report = claims(artifacts)
    assert report["partial"] is False
    assert report["deselected"] == []

    s6 = row(report, "S6")
    assert s6["verdict"] == "inconclusive"
    assert outcomes(report, "S6") == {"test_s6_passes": "passed", "test_s6_fails": "failed"}
    assert "test_claimed.py::test_s6_fails failed" in s6["why"]
    assert "test_s6_passes" not in s6["why"]

    assert row(report, "S7")["verdict"] == "inconclusive"
    assert outcomes(report, "S7") == {"test_s7_skips": "skipped"}
    assert "no node" in row(report, "S7")["why"]

    assert row(report, "S8")["verdict"] == "refuted"
    assert row(report, "S8")["evidence"] == ["kept as edited"]

    assert outcomes(report, "S10") == {"test_s10_setup_error": "error"}
    assert "setup broke" in row(report, "S10")["why"]
    assert outcomes(report, "S12") == {"test_s12_teardown_error": "error"}
    assert "teardown broke" in row(report, "S12")["why"]
    assert row(report, "S12")["verdict"] == "inconclusive"

    assert row(report, "S1")["verdict"] == "not tested"
    assert (artifacts / "claims.md").is_file()


def test_a_passed_test_carries_no_reason(pytester: pytest.Pytester) -> None:
    """ "the run ended before it" is for tests that did not run, never for one that passed."""
    pytester.makepyfile(test_claimed=CLAIMED)
    _, artifacts = run(pytester)
    report = claims(artifacts)
    assert [t["reason"] for t in row(report, "S8")["tests"]] == [""]
    reasons = {t["test"].split("::")[-1]: t["reason"] for t in row(report, "S6")["tests"]}
    assert reasons["test_s6_passes"] == ""
    assert "mirror missing" in reasons["test_s6_fails"]


def test_a_deselected_test_is_listed_and_its_claim_inconclusive(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_claimed=CLAIMED)
    result, artifacts = run(pytester, "-k", "not test_s8_passes")
    result.assert_outcomes(passed=2, failed=1, skipped=1, errors=2, deselected=1)
    report = claims(artifacts)
    assert report["deselected"] == ["test_claimed.py::test_s8_passes: deselected by -k/-m"]
    assert row(report, "S8")["verdict"] == "inconclusive"
    assert outcomes(report, "S8") == {"test_s8_passes": "deselected"}


def test_an_interrupted_run_is_partial_and_later_tests_not_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_interrupt=INTERRUPTED)
    result, artifacts = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = claims(artifacts)
    assert report["partial"] is True
    assert outcomes(report, "S6") == {"test_first": "passed"}
    assert outcomes(report, "S8") == {"test_after": "not run"}
    assert row(report, "S8")["verdict"] == "inconclusive"
    assert "Partial run" in (artifacts / "claims.md").read_text()


def test_the_interrupted_test_itself_does_not_count_as_passed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_interrupt=INTERRUPTED)
    _, artifacts = run(pytester)
    report = claims(artifacts)
    assert outcomes(report, "S7") != {"test_interrupted": "passed"}
    assert row(report, "S7")["verdict"] == "inconclusive"


def test_a_run_without_claim_or_cluster_tests_leaves_the_artifacts_directory_alone(
    pytester: pytest.Pytester,
) -> None:
    """The plugin is installed where other suites run: their artifacts/ is not its business."""
    pytester.makepyfile(test_plain="def test_plain(): pass")
    old = pytester.path / "artifacts" / "claims.json"
    old.parent.mkdir()
    old.write_text('{"old": true}')
    result, _ = run(pytester)
    result.assert_outcomes(passed=1)
    assert old.read_text() == '{"old": true}'
    assert sorted(p.name for p in old.parent.iterdir()) == ["claims.json"]


def test_a_file_that_cannot_be_collected_makes_the_run_partial(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_backed_by_one="""
        import pytest

        @pytest.mark.claim("S7", "confirmed")
        def test_ok(): pass
        """,
        test_broken="import no_such_module",
    )
    _, artifacts = run(pytester, "--continue-on-collection-errors")
    report = claims(artifacts)
    assert report["partial"] is True
    assert any("test_broken.py: not collected" in line for line in report["deselected"])


def test_a_run_with_claim_tests_removes_the_old_report_first(pytester: pytest.Pytester) -> None:
    artifacts = pytester.path / "artifacts"
    artifacts.mkdir()
    (artifacts / "claims.json").write_text('{"old": true}')
    (artifacts / "claims.md").write_text("old")
    pytester.makepyfile(
        test_sees=f"""
import pytest
from pathlib import Path

@pytest.mark.claim("S6", "confirmed")
def test_old_report_is_gone_while_the_run_goes_on():
    assert not Path({str(artifacts)!r}, "claims.json").exists()
    assert not Path({str(artifacts)!r}, "claims.md").exists()
"""
    )
    result, _ = run(pytester)
    result.assert_outcomes(passed=1)
    assert row(claims(artifacts), "S6")["verdict"] == "confirmed"


def test_a_bad_claim_marker_is_a_usage_error_naming_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad='import pytest\n\n@pytest.mark.claim("S99", "confirmed")\ndef test_bad_marker(): pass\n'
    )
    result, artifacts = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1
    assert "test_bad.py::test_bad_marker: bad claim marker claim('S99', 'confirmed')" in errors[0]
    assert "unknown claim 'S99'" in errors[0]
    assert not (artifacts / "claims.json").exists()


CLUSTER_REPORTED = """
import pytest

@pytest.fixture
def cluster(request):
    # What harness.plugin.fixtures.cluster reports of the cluster it hands out, at setup.
    request.node.user_properties.append(("kubernetes", "v1.34.4"))
    request.node.user_properties.append(("kubelets", "v1.34.4"))
    request.node.user_properties.append(("node_image", "img:1"))

def test_on_a_cluster(cluster): pass

def test_without_one(): pass
"""

REPORTED_IN_THE_BODY = """
def test_on_a_cluster(request):
    request.node.user_properties.append(("kubernetes", "v1.34.4"))
    request.node.user_properties.append(("kubelets", "v1.34.4"))
    request.node.user_properties.append(("node_image", "img:1"))
"""


def test_a_run_on_a_cluster_writes_run_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_on_cluster=CLUSTER_REPORTED)
    result, artifacts = run(pytester)
    result.assert_outcomes(passed=2)
    written = json.loads((artifacts / "run.json").read_text())
    seconds = written.pop("seconds")
    assert written == {
        "requested": DEFAULT_K8S_VERSION,
        "kubernetes": ["v1.34.4"],
        "kubelets": ["v1.34.4"],
        "kind": KIND_VERSION,
        "node_image": "img:1",
        "status": "ran",
        "partial": False,
    }
    assert isinstance(seconds, float) and seconds >= 0


def test_run_json_names_the_version_asked_for(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_on_cluster=CLUSTER_REPORTED)
    _, artifacts = run(pytester, "--sph-k8s-version", "1.33.13", "-k", "on_a_cluster")
    assert json.loads((artifacts / "run.json").read_text())["requested"] == "1.33.13"


def test_cluster_properties_added_by_the_test_body_write_run_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reports_in_body=REPORTED_IN_THE_BODY)
    result, artifacts = run(pytester)
    result.assert_outcomes(passed=1)
    assert json.loads((artifacts / "run.json").read_text())["kubernetes"] == ["v1.34.4"]


def test_a_run_that_reported_no_cluster_writes_no_run_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain_run="def test_plain(): pass")
    result, artifacts = run(pytester)
    result.assert_outcomes(passed=1)
    assert not (artifacts / "run.json").exists()


def test_an_old_run_json_is_removed_when_the_run_starts(pytester: pytest.Pytester) -> None:
    old = pytester.path / "artifacts" / "run.json"
    old.parent.mkdir()
    old.write_text('{"old": true}')
    pytester.makepyfile(
        test_sees_run=f"""
from pathlib import Path
import pytest

@pytest.mark.claim("S6", "confirmed")
def test_old_run_json_is_gone_while_the_run_goes_on():
    assert not Path({str(old)!r}).exists()
"""
    )
    result, _ = run(pytester)
    result.assert_outcomes(passed=1)
    assert not old.exists()
