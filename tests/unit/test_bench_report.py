"""`make bench`'s figures: summaries, the table, and an HTML page that needs nothing from outside."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.reports.bench import Sample, Spread, summarize, table, write

SAMPLES = [
    Sample("placed -> container running", 0.30, 0.40),
    Sample("placed -> container running", 0.25, 0.90),
    Sample("placed -> container running", 0.35, 0.45),
    Sample("removed -> mirror gone", None, 3.0),
]


def test_summaries_are_per_behaviour_in_first_seen_order_with_the_overhead_of_each_sample() -> None:
    running, gone = summarize(SAMPLES)

    assert (running.behaviour, running.n) == ("placed -> container running", 3)
    assert running.kubelet == Spread(0.25, 0.30, 0.35)
    assert running.harness == Spread(0.40, 0.45, 0.90)
    assert running.overhead is not None
    assert (running.overhead.min, running.overhead.max) == pytest.approx((0.1, 0.65))
    assert (gone.kubelet, gone.overhead, gone.harness) == (None, None, Spread(3.0, 3.0, 3.0))


def test_the_table_says_which_overhead_medians_meet_the_target() -> None:
    lines = table(summarize(SAMPLES), target=0.1).splitlines()

    assert lines[2].startswith("placed -> container running") and lines[2].endswith("over target")
    assert "(no timestamp)" in lines[3] and not lines[3].endswith(("ok", "over target"))
    assert table(summarize(SAMPLES[:3]), target=0.3).splitlines()[2].endswith("ok")


def test_json_and_html_are_written_and_the_page_is_self_contained(tmp_path: Path) -> None:
    json_path, html_path = write(tmp_path, SAMPLES, {"n": 3}, 0.3)

    data = json.loads(json_path.read_text())
    assert [s["overhead"] for s in data["samples"]][3] is None
    assert data["summary"][0]["harness"]["median"] == 0.45
    page = html_path.read_text()
    assert page.count("<svg") == 2 and page.count("<circle") == 3 + 3 + 1
    assert "<script" not in page and "@import" not in page and "<link" not in page
    assert re.findall(r"https?://[^\"']+", page) == ["http://www.w3.org/2000/svg"] * 2  # a namespace only
