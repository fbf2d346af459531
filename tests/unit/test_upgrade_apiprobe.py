"""SCOPE=cluster's pure parts: the API prober's samples as outages and as kubeadm's control-plane pods'
records, the findings on those pods, and how the report and the timeline show them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.upgrade.apiprobe import Sample, control_plane_pods, failed_seconds, outages
from harness.upgrade.diff import ControlPlaneFinding, check_result, diff_upgrade
from harness.upgrade.records import MirrorSeen, Outage, Step, UpgradeRecord
from harness.upgrade.report import read_records, write_reports
from harness.upgrade.stage import component_of
from harness.upgrade.timeline import build_timeline, render_svg, render_text

DATA = Path(__file__).parent / "data/upgrade"
T0 = datetime(2026, 12, 6, 7, 0, 0, tzinfo=UTC)
TO = "v1.37.2"
WANTED = {
    "etcd": "registry.k8s.io/etcd:3.6.5-0",
    "kube-apiserver": f"registry.k8s.io/kube-apiserver:{TO}",
    "kube-controller-manager": f"registry.k8s.io/kube-controller-manager:{TO}",
    "kube-scheduler": f"registry.k8s.io/kube-scheduler:{TO}",
}
OLD = {
    **{c: image.replace(TO, "v1.36.4") for c, image in WANTED.items()},
    "etcd": "registry.k8s.io/etcd:3.5.21-0",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def seen(second: float, uid: str, ready: bool = True, image: str = "", hash_: str = "") -> MirrorSeen:
    return MirrorSeen(at(second), uid, hash_ or f"hash-{uid}", ready, image)


def sample(second: float, readyz: bool = True, request: bool = True, **mirrors: MirrorSeen) -> Sample:
    named = tuple((name.replace("_", "-"), m) for name, m in mirrors.items())
    return Sample(at(second), readyz, request, named if request else ())


def run_samples() -> list[Sample]:
    """Before the hop (t < 10); kubeadm upgrade apply from t=10: the API server down 13-20, replaced;
    the controller manager replaced twice; the scheduler left alone; etcd left at its old image."""
    return [
        sample(
            5,
            etcd=seen(5, "e1", image=OLD["etcd"]),
            kube_apiserver=seen(5, "a1", image=OLD["kube-apiserver"]),
            kube_controller_manager=seen(5, "c1", image=OLD["kube-controller-manager"]),
            kube_scheduler=seen(5, "s1", image=WANTED["kube-scheduler"]),
        ),
        sample(
            11,
            etcd=seen(11, "e1", image=OLD["etcd"]),
            kube_apiserver=seen(11, "a1", image=OLD["kube-apiserver"]),
            kube_controller_manager=seen(11, "c2", False, WANTED["kube-controller-manager"]),
            kube_scheduler=seen(11, "s1", image=WANTED["kube-scheduler"]),
        ),
        sample(13, readyz=False, request=False),
        sample(
            16, readyz=False, request=True, kube_apiserver=seen(16, "a2", False, WANTED["kube-apiserver"])
        ),
        sample(20, readyz=True, request=False),
        sample(
            22,
            etcd=seen(22, "e1", image=OLD["etcd"]),
            kube_apiserver=seen(22, "a2", True, WANTED["kube-apiserver"]),
            kube_controller_manager=seen(22, "c3", True, WANTED["kube-controller-manager"]),
            kube_scheduler=seen(22, "s1", image=WANTED["kube-scheduler"]),
        ),
        sample(40),  # after the hop
    ]


def findings() -> dict[str, ControlPlaneFinding]:
    changed = {"kube-apiserver": at(12), "kube-controller-manager": at(10.5), "etcd": None}
    records = control_plane_pods(run_samples(), at(10), at(30), changed, WANTED)
    return {r.component: ControlPlaneFinding(r) for r in records}


def test_failed_answers_become_intervals_until_the_next_good_one() -> None:
    found = outages(run_samples(), at(10), at(30))
    assert found == (
        Outage("readyz", at(13), at(20)),
        Outage("request", at(13), at(16)),
        Outage("request", at(20), at(22)),
    )
    assert (failed_seconds(found, "readyz"), failed_seconds(found, "request")) == (7.0, 5.0)


def test_an_outage_still_open_at_the_end_ends_there() -> None:
    assert outages([sample(1), sample(2, readyz=False)], at(0), at(5)) == (Outage("readyz", at(2), at(5)),)


def test_a_pod_whose_manifest_changed_is_replaced_once_and_ready_at_tos_image() -> None:
    apiserver = findings()["kube-apiserver"]
    assert apiserver.replacements == 1 and apiserver.manifest_changed
    assert apiserver.record.before is not None and apiserver.record.before.uid == "a1"
    assert apiserver.record.after is not None and apiserver.record.after.uid == "a2"
    assert apiserver.ready_seconds == 10.0  # manifest at 12, first seen Ready at 22
    assert apiserver.at_wanted_image and not apiserver.disrupted


def test_a_pod_left_alone_is_not_replaced() -> None:
    scheduler = findings()["kube-scheduler"]
    assert (scheduler.replacements, scheduler.manifest_changed, scheduler.disrupted) == (0, False, False)
    assert scheduler.ready_seconds is None


def test_a_second_replacement_is_beyond_what_the_manifest_change_explains() -> None:
    manager = findings()["kube-controller-manager"]
    assert manager.replacements == 2
    assert manager.disruptions == ("replaced 2 times, its manifest changed once",)


def test_a_pod_not_at_tos_image_is_disrupted() -> None:
    etcd = findings()["etcd"]
    assert etcd.disruptions == (f"runs {OLD['etcd']}, not TO's {WANTED['etcd']}",)


def control_plane_record() -> UpgradeRecord:
    base = UpgradeRecord.from_json(
        (Path(__file__).parent / "data/upgrade/recorded-1.34.3-to-1.34.4.json").read_text()
    )
    found = findings()
    return dataclasses.replace(
        base,
        from_version="v1.36.4",
        to_version=TO,
        node="static-pods-upgrade-control-plane",
        steps=(
            Step(at(10), f"kubeadm upgrade apply {TO}"),
            Step(at(24), f"kubelet {TO} in place, restarted"),
        ),
        swap_started=at(24),
        watch_ended=at(60),
        observations=(),
        control_plane=tuple(f.record for f in found.values()),
        api_outages=outages(run_samples(), at(10), at(60)),
    )


def test_no_disruption_fails_on_the_control_plane_pods_report_never() -> None:
    strict = check_result([control_plane_record()], "no-disruption")
    assert [f for f in strict.failures if "kube-system/" in f] == [
        f"v1.36.4 → {TO}: kube-system/etcd: runs {OLD['etcd']}, not TO's {WANTED['etcd']}",
        f"v1.36.4 → {TO}: kube-system/kube-controller-manager: replaced 2 times, its manifest changed once",
    ]
    assert check_result([control_plane_record()], "report").failures == ()


def test_the_report_gives_each_control_plane_pod_and_the_api_servers_outage(tmp_path: Path) -> None:
    paths = write_reports([control_plane_record()], tmp_path, "report")
    text = paths["md"].read_text()
    assert (
        "- API server unavailable: GET /readyz failed 7.0 s (07:00:13.0 to 07:00:20.0); "
        "requests failed 5.0 s (07:00:13.0 to 07:00:16.0, 07:00:20.0 to 07:00:22.0)"
    ) in text
    assert f"- How: kubeadm upgrade apply {TO} → kubelet {TO} in place, restarted" in text
    assert (
        "| kube-system/kube-apiserver | no | 1x (its manifest changed) | hash-a1 → hash-a2 | a1 → a2 "
        "| 10.0 s |" in text
    )
    assert "| kube-system/kube-scheduler | no | 0x (its manifest did not change) |" in text
    page = paths["html"].read_text()
    assert "<h3>kubeadm's control-plane pods</h3>" in page


def test_the_timeline_has_the_control_plane_pods_and_the_api_server_on_strips_of_their_own() -> None:
    timeline = build_timeline(diff_upgrade(control_plane_record()))
    names = [s.name for s in timeline.strips]
    assert names[-6:] == [
        "kube-system/etcd",
        "kube-system/kube-apiserver",
        "kube-system/kube-controller-manager",
        "kube-system/kube-scheduler",
        "API server: GET /readyz",
        "API server: requests",
    ]
    apiserver = timeline.strips[-5]
    assert [(m.kind, m.at) for m in apiserver.marks] == [("manifest", 2.0), ("mirror", 6.0)]
    assert [(s.start, s.end) for s in apiserver.not_ready] == [(6.0, 12.0)]
    assert [(s.start, s.end) for s in timeline.strips[-2].not_ready] == [(3.0, 10.0)]
    assert 'class="manifest"' in render_svg(timeline)
    assert any(
        line.startswith("- API server: requests: +3.0 s not Ready until +6.0 s")
        for line in render_text(timeline)
    )


def test_kubeadms_images_are_named_by_component() -> None:
    assert component_of("registry.k8s.io/kube-apiserver:v1.37.2") == "kube-apiserver"
    assert component_of("registry.k8s.io/coredns/coredns:v1.12.1") == "coredns"
    assert component_of("registry.k8s.io/etcd:3.6.5-0") == "etcd"


def test_a_control_plane_record_reads_back_from_upgrade_json(tmp_path: Path) -> None:
    record = control_plane_record()
    paths = write_reports([record], tmp_path, "report")
    assert read_records(paths["json"]) == (record,)
