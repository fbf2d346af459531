import json

import pytest

from harness.reports.claims import CLAIMS, PARTIAL, ClaimsReport, RunInfo, claim_properties

RUN = RunInfo(kubernetes=["v1.34.4"], kubelets=["v1.34.4"], partial=False, deselected=[])


def props(*args):
    return claim_properties([pytest.mark.claim(*args).mark], "t")


def report_of(*results):
    """A report from (nodeid, outcome, claim args) triples."""
    report = ClaimsReport()
    for nodeid, outcome, args in results:
        report.add(nodeid, outcome, f"why {nodeid}" if outcome != "passed" else "", props(*args))
    return report


def test_passing_tests_that_agree_give_their_verdict_and_a_mix_is_partly():
    report = report_of(
        ("t1", "passed", ("S6", "confirmed")),
        ("t2", "passed", ("S8", "refuted", "rejected")),
        ("t3", "passed", ("S12", "confirmed")),
        ("t4", "passed", ("S12", "refuted")),
    )
    assert [report.verdict(c) for c in ("S6", "S8", "S12", "S1")] == [
        "confirmed",
        "refuted",
        "partly",
        "not tested",
    ]


@pytest.mark.parametrize("outcome", ["failed", "error", "skipped", "deselected", "not run"])
def test_a_backing_test_that_did_not_pass_makes_the_claim_inconclusive(outcome):
    report = report_of(
        ("t1", "passed", ("S6", "confirmed")),
        ("t2", "passed", ("S6", "confirmed")),
        ("t3", outcome, ("S6", "partly")),
    )
    assert report.verdict("S6") == "inconclusive"
    row = report.rows()[5]
    assert row["why"] == f"t3 {outcome}: why t3"
    assert [t["outcome"] for t in row["tests"]] == ["passed", "passed", outcome]


def test_a_repeated_add_for_one_test_replaces_the_earlier_result():
    report = ClaimsReport()
    report.add("t", "passed", "", props("S14", "confirmed"))
    report.add("t", "error", "teardown\nTraceback ...", props("S14", "confirmed"))
    assert report.verdict("S14") == "inconclusive"
    assert report.rows()[13]["tests"] == [
        {"test": "t", "verdict": "confirmed", "outcome": "error", "reason": "teardown"}
    ]


def test_add_caps_the_reason_and_ignores_other_properties():
    report = ClaimsReport()
    report.add("t", "failed", "x" * 500, [("other", 1), *props("S1", "confirmed")])
    (test,) = report.rows()[0]["tests"]
    assert len(test["reason"]) == 200


def test_claim_properties_round_trip_through_add():
    assert props("S8", "refuted", "rejected") == [
        ("claim", json.dumps({"claim": "S8", "verdict": "refuted", "note": "rejected"}))
    ]
    report = ClaimsReport()
    for param in ("kind", "apiVersion"):
        report.add(f"t[{param}]", "passed", "", props("S11", "refuted", "refused"))
    report.add("t2", "passed", "", props("S11", "refuted", "logged"))
    assert report.rows()[10]["evidence"] == ["refused", "logged"]


@pytest.mark.parametrize(
    ("mark", "problem"),
    [
        (pytest.mark.claim("S99", "confirmed"), "unknown claim 'S99'"),
        (pytest.mark.claim("S1", "maybe"), "unknown verdict 'maybe'"),
        (pytest.mark.claim("S1", "confirmed", "note", "more"), "positional arguments only"),
        (pytest.mark.claim("S1", verdict="confirmed"), "positional arguments only"),
        (pytest.mark.claim("S1", "confirmed", 3), "must be a str"),
    ],
)
def test_a_bad_marker_is_a_usage_error_naming_the_test(mark, problem):
    with pytest.raises(pytest.UsageError, match=problem) as error:
        claim_properties([mark.mark], "tests/e2e/test_x.py::test_y")
    assert str(error.value).startswith("tests/e2e/test_x.py::test_y: bad claim marker claim(")
    assert "\n" not in str(error.value)


def test_write_reports_a_partial_run_and_deselected_tests(tmp_path):
    report = report_of(("t1", "passed", ("S8", "refuted", "a | b")), ("t2", "not run", ("S9", "confirmed")))
    run = RunInfo(["v1.34.4"], ["v1.33.1", "v1.34.4"], partial=True, deselected=["t3: needs kind config x"])
    report.write(tmp_path, run)

    data = json.loads((tmp_path / "claims.json").read_text())
    assert data["kubelets"] == ["v1.33.1", "v1.34.4"]
    assert data["partial"] is True
    assert data["deselected"] == ["t3: needs kind config x"]
    assert [r["claim"] for r in data["claims"]] == list(CLAIMS)

    md = (tmp_path / "claims.md").read_text().splitlines()
    assert md[:3] == ["# Seed-article claims on Kubernetes v1.34.4 (kubelets v1.33.1, v1.34.4)", "", PARTIAL]
    rows = {line.split(":")[0]: line for line in md if line.startswith("| S")}
    assert rows["| S8"] == f"| S8: {CLAIMS['S8']} | **refuted** | a \\| b | `t1` (refuted; passed) |"
    assert rows["| S9"].endswith("| **inconclusive** | t2 not run: why t2 | `t2` (confirmed; not run) |")
    assert md[-3:] == ["## Deselected tests", "", "- t3: needs kind config x"]


def test_a_complete_run_has_no_partial_line_and_remove_deletes_the_report(tmp_path):
    ClaimsReport().write(tmp_path, RUN)
    assert PARTIAL not in (tmp_path / "claims.md").read_text()
    assert "Deselected" not in (tmp_path / "claims.md").read_text()
    ClaimsReport.remove(tmp_path)
    ClaimsReport.remove(tmp_path)  # nothing left to remove is fine
    assert list(tmp_path.iterdir()) == []
