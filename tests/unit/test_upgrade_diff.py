import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from harness.upgrade.diff import container_reasons, diff_upgrade, keeps_status, ready_flaps, upgrade_kind
from harness.upgrade.records import ReadyTransition, SwapObservation, UpgradeRecord
from harness.upgrade.report import write_reports

SAMPLE = Path(__file__).parent / "data/upgrade/synthetic-definition-changed.json"


@pytest.fixture
def minor() -> UpgradeRecord:
    """1.30.14 -> 1.31.14 as #129385 describes it: every running container restarted."""
    return UpgradeRecord.from_json(SAMPLE.read_text())


def undisturbed(record: UpgradeRecord, **changes) -> UpgradeRecord:
    """The same node, but the new kubelet left every pod as it was (a Ready flap aside)."""
    return dataclasses.replace(record, **{"after": record.before, "behaviours": (), **changes})


def test_definition_changed_restarts_are_found_with_the_kubelets_reason(minor):
    result = diff_upgrade(minor)
    plain = result.pods[0]
    assert plain.disruptions == ("1 of 1 containers restarted",)
    (app,) = plain.containers
    assert app.restarted and app.running_at_end
    assert app.reason == "Container app definition changed, will be restarted"
    assert not plain.sandbox_recreated and not plain.mirror_recreated and not plain.hash_changed


def test_a_completed_init_container_is_neither_restarted_nor_failed(minor):
    init = diff_upgrade(minor).pods[1]
    setup, app = init.containers
    assert (setup.kind, setup.restarted, setup.running_at_end, setup.reason) == ("init", False, True, None)
    assert app.restarted and init.disruptions == ("1 of 2 containers restarted",)
    assert init.running_at_end


def test_a_minor_upgrade_disruption_is_a_finding(minor):
    verdict = diff_upgrade(minor).verdict
    assert (verdict.disrupted, verdict.total, verdict.upgrade) == (3, 3, "minor")
    assert verdict.classification == "finding"
    assert verdict.line == "3 of 3 static pods disrupted: finding; 1 of 4 post-upgrade behaviours failed"


def test_a_patch_upgrade_that_leaves_pods_alone_is_no_disruption_despite_a_ready_flap(minor):
    result = diff_upgrade(undisturbed(minor, from_version="1.34.3", to_version="1.34.4"))
    assert result.verdict.line == "no disruption" and result.verdict.classification is None
    assert all(p.ready.flaps == 1 and not p.disrupted for p in result.pods)


def test_a_patch_upgrade_disruption_is_a_regression(minor):
    record = dataclasses.replace(minor, from_version="1.31.13", to_version="1.31.14", behaviours=())
    assert diff_upgrade(record).verdict.line == "3 of 3 static pods disrupted: regression"


def test_a_recreated_pod_shows_new_sandbox_new_mirror_and_hash_old_to_new(minor):
    old = minor.before[0]
    new = dataclasses.replace(
        old,
        mirror_uid="uid-new",
        config_hash="f" * 32,
        sandbox_ids=("sb-new", *old.sandbox_ids),
        containers=tuple(
            dataclasses.replace(c, container_id="new" + c.container_id[3:]) for c in old.containers
        ),
    )
    seen = SwapObservation(
        old.key,
        (),
        (
            'I1127 kubelet.go:1900] "Deleted mirror pod because it is outdated" '
            'pod="default/plain-upgrade-worker"',
            "event Killing: Stopping container app",
        ),
    )
    record = undisturbed(minor, after=(new, *minor.before[1:]), observations=(seen,))
    pod = diff_upgrade(record).pods[0]
    assert pod.disruptions == (
        "1 of 1 containers restarted",
        "sandbox recreated",
        "mirror recreated",
        "config.hash changed",
    )
    assert pod.reasons == ("Deleted mirror pod because it is outdated",)
    assert pod.containers[0].reason == (
        "pod recreated: config.hash 0a1b2c3d -> ffffffff (Killing: Stopping container app)"
    )


def test_a_pod_without_mirror_after_the_swap_is_gone(minor):
    record = undisturbed(minor, after=minor.before[1:])
    pod = diff_upgrade(record).pods[0]
    assert pod.disruptions == ("gone: no mirror after the swap",)
    assert not pod.running_at_end and pod.containers[0].restarted


def test_a_container_not_running_at_the_end_disrupts_its_pod(minor):
    old = minor.before[0]
    waiting = dataclasses.replace(old.containers[0], state="waiting")
    record = undisturbed(minor, after=(dataclasses.replace(old, containers=(waiting,)), *minor.before[1:]))
    pod = diff_upgrade(record).pods[0]
    assert pod.disruptions == ("not Running at the end",)


def test_ready_flaps_add_up_not_ready_time_until_the_watch_ends(minor):
    t0 = minor.swap_started
    steps = [
        ReadyTransition(t0 + timedelta(seconds=s), ready, "")
        for s, ready in [(10, False), (0, True), (13, True), (20, False), (30, True), (50, False)]
    ]
    flaps = ready_flaps(steps, t0 + timedelta(seconds=55))
    assert flaps.flaps == 3
    assert flaps.not_ready_seconds == pytest.approx(3 + 10 + 5)
    assert ready_flaps([], t0).flaps == 0


def test_kubelet_reasons_from_log_lines_and_event_messages():
    lines = [
        'I1127 "Message for Container of pod" containerName="app" '
        'containerMessage="Container app failed liveness probe, will be restarted"',
        "Killing: Init container log-shipper definition changed",
        "Killing: Container app definition changed, will be restarted",  # the first reason wins
    ]
    assert container_reasons(lines) == {
        "app": "Container app failed liveness probe, will be restarted",
        "log-shipper": "Init container log-shipper definition changed",
    }


@pytest.mark.parametrize(
    "old, new, kind",
    [
        ("1.34.3", "1.34.4", "patch"),
        ("1.34.4", "1.35.0", "minor"),
        ("v1.34.4", "v1.34.5-alpha.0.12+0a1b2c", "patch"),
    ],
)
def test_upgrade_kind_follows_the_minor(old, new, kind):
    assert upgrade_kind(old, new) == kind


def test_upgrade_kind_refuses_a_non_version():
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        upgrade_kind("latest", "1.34.4")


RECORDED_PATCH = Path(__file__).parent / "data/upgrade/recorded-1.34.3-to-1.34.4.json"
RECORDED_MINOR = Path(__file__).parent / "data/upgrade/recorded-1.30.14-to-1.31.0.json"


def as_versions(path: Path, old: str, new: str) -> UpgradeRecord:
    """A recorded run, as if its kubelets had been `old` and `new`."""
    return dataclasses.replace(UpgradeRecord.from_json(path.read_text()), from_version=old, to_version=new)


def test_from_1_35_a_ready_reset_across_the_restart_is_a_disruption():
    """KEP-4781: a 1.35+ kubelet keeps container status; the recorded probes pod's Ready reset fails."""
    result = diff_upgrade(as_versions(RECORDED_PATCH, "v1.35.7", "v1.35.8"))
    (probes,) = [p for p in result.pods if p.disrupted]
    assert probes.key.startswith("default/upgrade-probes-")
    assert probes.status_reset and probes.notes == ()
    (reset,) = probes.disruptions
    assert reset.startswith("Ready/Started reset across the kubelet restart (1x, 0.7 s not Ready)")
    assert "KEP-4781" in reset and "1.35+" in reset
    assert result.verdict.line == "1 of 8 static pods disrupted: regression"


def test_before_1_35_a_ready_reset_is_expected_behaviour_with_the_kep_named():
    result = diff_upgrade(as_versions(RECORDED_PATCH, "v1.34.3", "v1.34.4"))
    assert result.verdict.line == "no disruption"
    (probes,) = [p for p in result.pods if p.status_reset]
    assert probes.notes == (
        "Ready/Started reset across the kubelet restart (1x, 0.7 s not Ready): expected before 1.35 "
        "(KEP-4781, ChangeContainerStatusOnKubeletRestart)",
    )
    assert not probes.disrupted


def test_a_ready_reset_that_a_restart_explains_is_not_a_status_reset():
    """Every pod of the recorded minor upgrade lost Ready because it was recreated: that is the
    disruption, not a reset of status, even for a 1.35+ kubelet."""
    result = diff_upgrade(as_versions(RECORDED_MINOR, "v1.35.8", "v1.36.4"))
    for pod in result.pods:
        assert pod.ready.flaps == 1 and not pod.status_reset, pod.key
        assert not any("reset" in d for d in pod.disruptions), pod.key


@pytest.mark.parametrize(
    ("version", "keeps"),
    [("v1.34.4", False), ("1.35.0", True), ("v1.35.0-alpha.1.5+0a1b2c", True), ("v1.38.0-beta.0", True)],
)
def test_keeps_status_follows_the_versions_table(version, keeps):
    assert keeps_status(version) is keeps


def test_the_report_names_the_kep_for_an_expected_reset(tmp_path):
    markdown = write_reports([as_versions(RECORDED_PATCH, "v1.34.3", "v1.34.4")], tmp_path, "report")[
        "md"
    ].read_text()
    assert markdown.count("- Expected for this version: Ready/Started reset") == 1
    assert "(KEP-4781, ChangeContainerStatusOnKubeletRestart)" in markdown
