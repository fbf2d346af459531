"""What the upgrade check sees of static pods: snapshots from both sides, and Ready watched live.

A snapshot reads each mirror pod (UID, config.hash, phase, container statuses) and crictl on
the node (sandboxes, container attempts). The Ready watch (harness.staticpods.ready_watch)
follows the mirrors from before the swap until the pods settled, with `ready_and_started` as
its state: a container whose Started goes False counts as not Ready, so that a reset of either
across the kubelet restart (KEP-4781) is seen.
"""

from __future__ import annotations

from kubernetes import client as k8s

from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION
from harness.staticpods.pods import StaticPod
from harness.staticpods.ready_watch import ready_of
from harness.upgrade.records import ContainerKind, ContainerRecord, PodRecord


def snapshot(pod: StaticPod) -> PodRecord | None:
    """The pod now: mirror identity and status, sandboxes and container attempts from crictl;
    None when it has no mirror."""
    mirror = pod.mirror()
    if mirror is None:
        return None
    attempts = {c.id: c.attempt for c in pod.containers()}
    kinds = _container_kinds(mirror)
    statuses = (mirror.status.init_container_statuses or []) + (mirror.status.container_statuses or [])
    return PodRecord(
        namespace=pod.namespace,
        mirror_name=pod.mirror_name,
        mirror_uid=mirror.metadata.uid,
        config_hash=(mirror.metadata.annotations or {}).get(CONFIG_HASH_ANNOTATION, ""),
        phase=mirror.status.phase or "",
        sandbox_ids=_sandboxes(pod),
        containers=tuple(_container(status, kinds[status.name], attempts) for status in statuses),
    )


def ready_and_started(pod: k8s.V1Pod) -> tuple[bool, str]:
    """The pod's Ready condition, but not Ready while a running container says started: false."""
    ready, reason = ready_of(pod)
    statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
    unstarted = [s.name for s in statuses if s.state and s.state.running and s.started is False]
    if unstarted:
        return False, f"NotStarted: {', '.join(unstarted)}"
    return ready, reason


def _sandboxes(pod: StaticPod) -> tuple[str, ...]:
    return tuple(s.id for s in pod.node.crictl.pods(name=pod.mirror_name, namespace=pod.namespace))


def _container_kinds(mirror: k8s.V1Pod) -> dict[str, ContainerKind]:
    kinds: dict[str, ContainerKind] = {c.name: "container" for c in mirror.spec.containers}
    for init in mirror.spec.init_containers or []:
        kinds[init.name] = "sidecar" if init.restart_policy == "Always" else "init"
    return kinds


def _container(
    status: k8s.V1ContainerStatus, kind: ContainerKind, attempts: dict[str, int]
) -> ContainerRecord:
    container_id = (status.container_id or "").split("://")[-1]
    state = status.state
    running, terminated = state.running if state else None, state.terminated if state else None
    started = running.started_at if running else terminated.started_at if terminated else None
    return ContainerRecord(
        name=status.name,
        kind=kind,
        container_id=container_id,
        attempt=attempts.get(container_id, 0),
        restart_count=status.restart_count or 0,
        started_at=started,
        state="running" if running else "terminated" if terminated else "waiting",
    )
