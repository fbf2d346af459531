"""What two real upgrade checks found, from their records (tests/unit/data/upgrade/recorded-*.json,
UpgradeRecord JSON of checks run on a kind cluster), through the diff and the reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.upgrade.diff import UpgradeDiff, diff_upgrade
from harness.upgrade.records import UpgradeRecord
from harness.upgrade.report import read_records, write_reports

DATA = Path(__file__).parent / "data/upgrade"
MINOR = "recorded-1.30.14-to-1.31.0.json"
PATCH = "recorded-1.34.3-to-1.34.4.json"
BEHAVIOURS = [
    "a new manifest runs and gets its mirror",
    "an edited manifest replaces the pod",
    "a removed manifest stops the pod and its mirror",
    "a deleted mirror pod comes back",
]


def recorded(name: str) -> UpgradeRecord:
    return UpgradeRecord.from_json((DATA / name).read_text())


@pytest.fixture(scope="module")
def minor() -> UpgradeDiff:
    return diff_upgrade(recorded(MINOR))


@pytest.fixture(scope="module")
def patch() -> UpgradeDiff:
    return diff_upgrade(recorded(PATCH))


def test_the_minor_upgrade_disrupted_every_static_pod(minor: UpgradeDiff) -> None:
    record = minor.record
    assert (record.from_version, record.to_version) == ("v1.30.14", "v1.31.0")
    assert minor.verdict.upgrade == "minor"
    assert minor.verdict.line == "8 of 8 static pods disrupted: finding"
    assert minor.verdict.classification == "finding"
    assert record.node_ready_seconds is not None
    assert [b.behaviour for b in record.behaviours] == BEHAVIOURS
    assert all(b.passed for b in record.behaviours)


def test_the_minor_upgrade_recreated_each_pod_under_a_new_config_hash(minor: UpgradeDiff) -> None:
    assert len(minor.pods) == 8
    for pod in minor.pods:
        assert pod.after is not None, pod.key
        assert pod.mirror_recreated and pod.hash_changed and pod.sandbox_recreated, pod.key
        assert pod.after.config_hash != pod.before.config_hash
        assert pod.reasons == ("Deleted mirror pod because it is outdated",), pod.key
        assert pod.running_at_end, pod.key


def test_the_minor_upgrade_restarted_every_container_because_its_pod_was_recreated(
    minor: UpgradeDiff,
) -> None:
    for pod in minor.pods:
        assert pod.after is not None
        recreated = f"pod recreated: config.hash {pod.before.config_hash[:8]} -> {pod.after.config_hash[:8]}"
        for container in pod.containers:
            assert container.restarted, (pod.key, container.name)
            assert container.reason is not None and container.reason.startswith(recreated), container
    kinds = {c.kind for pod in minor.pods for c in pod.containers}
    assert kinds == {"init", "sidecar", "container"}


def test_the_patch_upgrade_left_every_static_pod_alone(patch: UpgradeDiff) -> None:
    record = patch.record
    assert (record.from_version, record.to_version) == ("v1.34.3", "v1.34.4")
    assert patch.verdict.upgrade == "patch"
    assert patch.verdict.line == "no disruption"
    assert patch.verdict.classification is None
    assert len(patch.pods) == 8
    for pod in patch.pods:
        assert not pod.disrupted, (pod.key, pod.disruptions)
        assert not pod.mirror_recreated and not pod.hash_changed and not pod.sandbox_recreated
        assert not any(c.restarted for c in pod.containers), pod.key
        assert pod.running_at_end


def test_the_patch_upgrade_passed_all_four_post_upgrade_behaviours(patch: UpgradeDiff) -> None:
    behaviours = patch.record.behaviours
    assert [b.behaviour for b in behaviours] == BEHAVIOURS
    assert all(b.passed for b in behaviours), behaviours
    assert patch.verdict.behaviours_failed == 0


@pytest.mark.parametrize(
    ("name", "verdict", "css"),
    [(MINOR, "8 of 8 static pods disrupted: finding", "bad"), (PATCH, "no disruption", "ok")],
)
def test_the_reports_say_the_verdict_and_give_back_the_record(
    name: str, verdict: str, css: str, tmp_path: Path
) -> None:
    record = recorded(name)

    paths = write_reports([record], tmp_path, "report")

    assert sorted(paths) == ["html", "json", "md"]
    assert paths["md"].read_text().startswith(f"# Kubelet upgrade check: {verdict}\n")
    assert f'<h1 class="{css}">{verdict}</h1>' in paths["html"].read_text()
    summary = json.loads(paths["json"].read_text())
    assert summary["verdict"] == verdict
    assert len(summary["hops"][0]["pods"]) == 8
    assert read_records(paths["json"]) == (record,)


def test_the_minor_report_shows_each_recreated_pod(tmp_path: Path) -> None:
    paths = write_reports([recorded(MINOR)], tmp_path, "report")

    markdown = paths["md"].read_text()
    assert markdown.count("- Kubelet's pod messages: Deleted mirror pod because it is outdated") == 8
    assert markdown.count("- Mirror recreated: yes: uid ") == 8
    assert "v1.30.14 → v1.31.0 (minor upgrade)" in markdown
