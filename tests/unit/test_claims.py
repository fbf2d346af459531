import json
from types import SimpleNamespace

import pytest

from harness.claims import CLAIMS, ClaimsReport
from harness.versions import KubeVersion


def item(nodeid, *claims):
    markers = [SimpleNamespace(args=args) for args in claims]
    return SimpleNamespace(nodeid=nodeid, iter_markers=lambda name: markers)


def outcome(value):
    return SimpleNamespace(outcome=value)


def test_verdicts_aggregate_over_passing_tests_only(tmp_path):
    report = ClaimsReport()
    report.record(item("t1", ("S6", "confirmed")), outcome("passed"))
    report.record(item("t2", ("S8", "refuted", "the API server rejects the edit")), outcome("passed"))
    report.record(item("t3", ("S9", "confirmed")), outcome("failed"))
    report.record(item("t4", ("S12", "confirmed")), outcome("passed"))
    report.record(item("t5", ("S12", "refuted", "identical rewrite restarts nothing")), outcome("passed"))

    assert report.verdict("S6") == "confirmed"
    assert report.verdict("S8") == "refuted"
    assert report.verdict("S9") == "not tested"
    assert report.verdict("S12") == "partly"
    assert report.verdict("S1") == "not tested"

    report.write(tmp_path, KubeVersion.parse("1.34.4"))
    rows = json.loads((tmp_path / "claims.json").read_text())
    assert [r["claim"] for r in rows] == list(CLAIMS)
    assert rows[7]["evidence"] == "the API server rejects the edit"
    assert "| S8:" in (tmp_path / "claims.md").read_text()


def test_a_note_shared_by_parametrized_tests_is_given_once(tmp_path):
    report = ClaimsReport()
    for param in ("kind", "apiVersion"):
        report.record(item(f"t[{param}]", ("S11", "refuted", "refused")), outcome("passed"))
    report.record(item("t2", ("S11", "refuted", "logged")), outcome("passed"))

    assert report.rows(KubeVersion.parse("1.34.4"))[10]["evidence"] == "refused logged"


def test_a_bad_marker_is_a_usage_error():
    with pytest.raises(pytest.UsageError):
        ClaimsReport().record(item("t", ("S99", "confirmed")), outcome("passed"))
