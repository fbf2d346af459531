from datetime import UTC, datetime
from pathlib import Path

from harness.upgrade.records import ContainerRecord, PodRecord, UpgradeRecord, lines_about

SAMPLE = Path(__file__).parent / "data/upgrade/synthetic-definition-changed.json"


def test_a_record_survives_a_json_round_trip():
    record = UpgradeRecord.from_json(SAMPLE.read_text())
    assert UpgradeRecord.from_json(record.to_json()) == record
    assert record.swap_started == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert isinstance(record.before[0].sandbox_ids, tuple)
    assert record.before[0].containers[0].started_at.tzinfo is not None
    assert record.behaviours[-1].passed is False


def test_optional_fields_stay_none():
    pod = PodRecord(
        "default",
        "p-node",
        "uid",
        "hash",
        "Pending",
        (),
        (ContainerRecord("c", "container", "", 0, 0, None, "waiting"),),
    )
    record = UpgradeRecord.from_json(SAMPLE.read_text())
    record = UpgradeRecord(
        "1.34.3", "1.34.4", "n", record.swap_started, record.watch_ended, None, (pod,), (), ()
    )
    again = UpgradeRecord.from_json(record.to_json())
    assert (
        again == record
        and again.node_ready_seconds is None
        and again.before[0].containers[0].started_at is None
    )


def test_pods_are_found_by_key_and_containers_by_name():
    pod = UpgradeRecord.from_json(SAMPLE.read_text()).before[1]
    assert pod.key == "default/init-upgrade-worker"
    assert pod.container("setup").kind == "init"
    assert pod.container("missing") is None


def test_journal_lines_are_picked_by_klogs_pod_reference():
    lines = [
        'I1127 "Message for Container of pod" containerName="app" pod="default/web-node"',
        'I1127 "SyncLoop UPDATE" source="api" pods=["default/web-node-2"]',
        'I1127 "Deleted mirror pod because it is outdated" pod="default/web-node"',
    ]
    assert lines_about("default", "web-node", lines) == (lines[0], lines[2])
