"""The upgrade's timeline (harness.upgrade.timeline), from recorded runs and a synthetic one."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from pathlib import Path

from harness.upgrade.diff import diff_upgrade
from harness.upgrade.records import ReadyTransition, Step, SwapObservation, UpgradeRecord
from harness.upgrade.timeline import _step_labels, build_timeline, render_svg, render_text

DATA = Path(__file__).parent / "data/upgrade"


def recorded(name: str) -> UpgradeRecord:
    return UpgradeRecord.from_json((DATA / name).read_text())


def test_the_recorded_minor_upgrade_shows_restarts_spans_and_recreated_mirrors() -> None:
    timeline = build_timeline(diff_upgrade(recorded("recorded-1.30.14-to-1.31.0.json")))

    assert [what for _, what in timeline.steps] == ["kubelet v1.31.0 restarted", "node Ready"]
    assert round(timeline.steps[1][0] - timeline.steps[0][0], 1) == 2.5  # node_ready_seconds
    assert len(timeline.strips) == 8
    plain = timeline.strips[0]
    assert plain.name == "default/upgrade-plain-jbstv"  # the mirror's node suffix is said once
    assert [round(s.end - s.start, 1) for s in plain.not_ready] == [0.7]
    kinds = [(m.kind, m.at is None) for m in plain.marks]
    assert kinds == [("restart", False), ("mirror", True)]  # this record does not say when the mirror went
    assert all(0 <= s.start <= s.end <= timeline.length for strip in timeline.strips for s in strip.not_ready)


def test_the_text_says_the_same_as_the_strips() -> None:
    lines = render_text(build_timeline(diff_upgrade(recorded("recorded-1.34.3-to-1.34.4.json"))))

    assert lines[0].startswith("Node static-pods-upgrade-worker; times are seconds from 2026-11-27")
    pods = [line for line in lines if line.startswith("- default/")]
    assert len(pods) == 8
    assert sum(line.endswith("Ready throughout") for line in pods) == 7
    (probes,) = [line for line in pods if "upgrade-probes" in line]
    assert re.search(r": \+\d+\.\d s not Ready until \+\d+\.\d s \(0\.7 s, ContainersNotReady\)$", probes)


def test_steps_a_deleted_mirror_and_the_users_pods_are_drawn() -> None:
    record = recorded("recorded-1.34.3-to-1.34.4.json")
    pod = record.before[0]
    t0 = record.swap_started
    seen = SwapObservation(
        pod.key,
        (
            ReadyTransition(t0 - timedelta(seconds=5), True, ""),
            ReadyTransition(t0 + timedelta(seconds=2), False, "MirrorDeleted"),
            ReadyTransition(t0 + timedelta(seconds=4), True, ""),
        ),
    )
    steps = (Step(t0 - timedelta(seconds=3), "kubeadm upgrade node"), Step(t0, "kubelet v1.34.4 in place"))
    record = dataclasses.replace(record, observations=(seen,), steps=steps, user_pods=(pod.key,))

    timeline = build_timeline(diff_upgrade(record))
    svg = render_svg(timeline)

    assert timeline.steps[:2] == ((2.0, "kubeadm upgrade node"), (5.0, "kubelet v1.34.4 in place"))
    strip = timeline.strips[0]
    assert strip.user and [(m.at, m.what) for m in strip.marks] == [(7.0, "mirror deleted")]
    assert [(s.start, s.end, s.why) for s in strip.not_ready] == [(7.0, 9.0, "MirrorDeleted")]
    assert svg.startswith('<svg class="timeline"') and svg.endswith("</svg>")
    assert svg.count('class="step"') == 2 and svg.count('class="mirror"') == 1
    assert "<title>not Ready +7.0 s to +9.0 s, MirrorDeleted</title>" in svg
    assert "(yours)</text>" in svg
    assert not re.search(r"(?:src|href)=|https?://|<script", svg)
    assert (
        f"- {strip.name} (yours): +7.0 s mirror deleted; +7.0 s not Ready until +9.0 s (2.0 s, MirrorDeleted)"
        in (render_text(timeline))
    )


def test_step_labels_close_together_go_on_rows_of_their_own_and_stay_inside() -> None:
    labels = _step_labels(
        [
            (300.0, "kubeadm upgrade node"),
            (320.0, "kubelet restarted"),
            (600.0, "far"),
            (1200.0, "pods settled"),
        ],
        1224,
    )
    assert [(row, anchor) for _, _, row, anchor in labels] == [
        (0, "start"),
        (1, "start"),
        (0, "start"),
        (0, "end"),
    ]
