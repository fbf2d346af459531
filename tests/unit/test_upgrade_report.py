import dataclasses
import json
import re
from pathlib import Path

import pytest

from harness.upgrade.diff import check_result
from harness.upgrade.records import BehaviourResult, UpgradeRecord
from harness.upgrade.report import read_records, render_html, write_reports

SAMPLE = Path(__file__).parent / "data/upgrade/synthetic-definition-changed.json"


@pytest.fixture
def record() -> UpgradeRecord:
    return UpgradeRecord.from_json(SAMPLE.read_text())


def test_the_three_reports_are_written_and_the_json_rebuilds_the_record(record, tmp_path):
    paths = write_reports([record], tmp_path / "artifacts", "report")
    assert sorted(paths) == ["html", "json", "md"] and all(p.exists() for p in paths.values())
    assert read_records(paths["json"]) == (record,)
    summary = json.loads(paths["json"].read_text())
    assert summary["verdict"].startswith("3 of 3 static pods disrupted: finding")
    app = summary["hops"][0]["pods"][0]["containers"][0]
    assert app == {
        "name": "app",
        "kind": "container",
        "restarted": True,
        "reason": "Container app definition changed, will be restarted",
        "running_at_end": True,
    }


def test_markdown_puts_the_verdict_first_and_a_table_per_pod(record, tmp_path):
    text = write_reports([record], tmp_path, "report")["md"].read_text()
    assert text.splitlines()[0] == (
        "# Kubelet upgrade check: 3 of 3 static pods disrupted: finding; "
        "1 of 4 post-upgrade behaviours failed"
    )
    assert "- Node Ready after the restart: 11.5 s" in text
    assert "| app | container | yes | Container app definition changed, will be restarted |" in text
    assert "| setup | init | no | — |" in text
    assert "- FAILED: a deleted mirror comes back (no new mirror within 120 s)" in text
    assert text.count("### default/") == 3


def test_html_is_self_contained_and_marks_disrupted_cells(record):
    page = render_html(check_result([record], "report"))
    assert not re.search(r"(?:src|href)=|https?://|<link|<script", page)
    assert '<h1 class="bad">3 of 3 static pods disrupted: finding' in page
    assert '<td class="bad">Container app definition changed, will be restarted</td>' in page
    assert '<td class="warn">1 (5.0 s not Ready)</td>' in page
    assert '<li class="failed">FAILED: a deleted mirror comes back (no new mirror within 120 s)</li>' in page


def test_html_escapes_what_it_shows(record):
    odd = dataclasses.replace(
        record, after=record.before, behaviours=(BehaviourResult("<b>edit</b> & replace", True),)
    )
    page = render_html(check_result([odd], "report"))
    assert "&lt;b&gt;edit&lt;/b&gt; &amp; replace" in page and "<b>edit" not in page
    assert '<h1 class="ok">no disruption</h1>' in page


def test_a_restart_without_a_kubelet_message_says_how_to_get_one(record):
    quiet = dataclasses.replace(record, observations=())
    page = render_html(check_result([quiet], "report"))
    assert "need --v=2" in page and "0 (0.0 s not Ready)" in page


PATCH = Path(__file__).parent / "data/upgrade/recorded-1.34.3-to-1.34.4.json"
MINOR = Path(__file__).parent / "data/upgrade/recorded-1.30.14-to-1.31.0.json"


def two_hops() -> list[UpgradeRecord]:
    """1.30.14 -> 1.31.0 (every pod recreated), then a quiet 1.31.0 -> 1.31.14 (a recorded patch run)."""
    first = UpgradeRecord.from_json(MINOR.read_text())
    second = dataclasses.replace(
        UpgradeRecord.from_json(PATCH.read_text()), from_version="v1.31.0", to_version="v1.31.14"
    )
    return [first, second]


def test_each_hop_is_a_section_and_the_verdict_covers_all(tmp_path):
    paths = write_reports(two_hops(), tmp_path, "report")

    text = paths["md"].read_text()
    assert text.splitlines()[0] == (
        "# Kubelet upgrade check: v1.30.14 → v1.31.0: 8 of 8 static pods disrupted: finding; "
        "v1.31.0 → v1.31.14: no disruption"
    )
    assert "## Hop 1 of 2: v1.30.14 → v1.31.0" in text and "## Hop 2 of 2: v1.31.0 → v1.31.14" in text
    assert text.count("### Timeline") == 2
    summary = json.loads(paths["json"].read_text())
    assert [h["verdict"] for h in summary["hops"]] == [
        "8 of 8 static pods disrupted: finding",
        "no disruption",
    ]
    assert (summary["gate"], summary["failures"]) == ("passed", [])
    assert read_records(paths["json"]) == tuple(two_hops())
    page = paths["html"].read_text()
    assert page.count('<svg class="timeline"') == 2 and '<h1 class="bad">' in page


def test_no_disruption_fails_on_a_disruption_in_any_hop_report_never():
    strict = check_result(two_hops(), "no-disruption")
    assert len(strict.failures) == 8
    assert strict.failures[0].startswith("v1.30.14 → v1.31.0: default/upgrade-plain-")
    assert check_result(two_hops(), "report").failures == ()
    assert check_result(two_hops()[1:], "no-disruption").failures == ()


def test_a_failed_post_upgrade_behaviour_fails_either_gate(record):
    for expect in ("report", "no-disruption"):
        failures = check_result([record], expect).failures
        assert failures[0] == (
            "1.30.14 → 1.31.14: a deleted mirror comes back: no new mirror within 120 s"
        ), failures


def test_the_exit_codes_are_in_the_reports_header(record, tmp_path):
    text = write_reports([record], tmp_path, "no-disruption")["md"].read_text()
    assert "- Exit codes: 0: the check ran and its gate passed" in text
    assert "- Gate: EXPECT=no-disruption: failed: " in text
