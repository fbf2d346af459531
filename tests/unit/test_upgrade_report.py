import dataclasses
import json
import re
from pathlib import Path

import pytest

from harness.upgrade.diff import diff_upgrade
from harness.upgrade.records import BehaviourResult, UpgradeRecord
from harness.upgrade.report import read_record, render_html, write_reports

SAMPLE = Path(__file__).parent / "data/upgrade/synthetic-definition-changed.json"


@pytest.fixture
def record() -> UpgradeRecord:
    return UpgradeRecord.from_json(SAMPLE.read_text())


def test_the_three_reports_are_written_and_the_json_rebuilds_the_record(record, tmp_path):
    paths = write_reports(record, tmp_path / "artifacts")
    assert sorted(paths) == ["html", "json", "md"] and all(p.exists() for p in paths.values())
    assert read_record(paths["json"]) == record
    summary = json.loads(paths["json"].read_text())
    assert summary["verdict"].startswith("3 of 3 static pods disrupted: finding")
    app = summary["pods"][0]["containers"][0]
    assert app == {
        "name": "app",
        "kind": "container",
        "restarted": True,
        "reason": "Container app definition changed, will be restarted",
        "running_at_end": True,
    }


def test_markdown_puts_the_verdict_first_and_a_table_per_pod(record, tmp_path):
    text = write_reports(record, tmp_path)["md"].read_text()
    assert text.splitlines()[0] == (
        "# Kubelet upgrade check: 3 of 3 static pods disrupted: finding; "
        "1 of 4 post-upgrade behaviours failed"
    )
    assert "- Node Ready after the restart: 11.5 s" in text
    assert "| app | container | yes | Container app definition changed, will be restarted |" in text
    assert "| setup | init | no | — |" in text
    assert "- FAILED: a deleted mirror comes back (no new mirror within 120 s)" in text
    assert text.count("## default/") == 3


def test_html_is_self_contained_and_marks_disrupted_cells(record):
    page = render_html(diff_upgrade(record))
    assert not re.search(r"(?:src|href)=|https?://|<link|<script", page)
    assert '<h1 class="bad">3 of 3 static pods disrupted: finding' in page
    assert '<td class="bad">Container app definition changed, will be restarted</td>' in page
    assert '<td class="warn">1 (5.0 s not Ready)</td>' in page
    assert '<li class="failed">FAILED: a deleted mirror comes back (no new mirror within 120 s)</li>' in page


def test_html_escapes_what_it_shows(record):
    odd = dataclasses.replace(
        record, after=record.before, behaviours=(BehaviourResult("<b>edit</b> & replace", True),)
    )
    page = render_html(diff_upgrade(odd))
    assert "&lt;b&gt;edit&lt;/b&gt; &amp; replace" in page and "<b>edit" not in page
    assert '<h1 class="ok">no disruption</h1>' in page


def test_a_restart_without_a_kubelet_message_says_how_to_get_one(record):
    quiet = dataclasses.replace(record, observations=())
    page = render_html(diff_upgrade(quiet))
    assert "need --v=2" in page and "0 (0.0 s not Ready)" in page
