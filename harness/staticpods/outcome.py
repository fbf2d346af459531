"""What became of a placed static pod whose fate a test records rather than asserts (a feature a version
may lack or refuse): it runs, the kubelet refused its file, or the kubelet says why it does not run."""

from __future__ import annotations

from datetime import datetime

from harness.node import NodeCommandError
from harness.staticpods.pods import NODE_TIMEOUT, RELIST_REFUSAL, StaticPod
from harness.waiting import poll_until

# Waiting reasons that only say the kubelet is still at it.
STILL_STARTING = (None, "ContainerCreating", "PodInitializing")


def outcome(pod: StaticPod, since: datetime) -> str | None:
    """ "runs", "refused: <the kubelet's line>", "does not run: <reason>", or None while undecided."""
    if pod.running_container():
        return "runs"
    refused = [line for line in pod.node.kubelet.journal(since).splitlines() if RELIST_REFUSAL in line]
    refused = [line for line in refused if pod.path in line]
    if refused:
        return f"refused: {refused[-1].split(RELIST_REFUSAL, 1)[1].strip()[:300]}"
    mirror = pod.mirror()
    statuses = (mirror.status.container_statuses or []) if mirror else []
    waiting = next((s.state.waiting for s in statuses if s.state and s.state.waiting), None)
    if waiting and waiting.reason not in STILL_STARTING:
        return f"does not run: {waiting.reason}: {waiting.message or ''}".strip(": ")
    warnings = pod.core.list_namespaced_event(
        pod.namespace, field_selector=f"involvedObject.name={pod.mirror_name},type=Warning"
    ).items
    return f"does not run: {warnings[-1].reason}: {warnings[-1].message}" if warnings else None


def wait_outcome(pod: StaticPod, since: datetime) -> str:
    """outcome(pod, since), waited for until it is decided (a refusal shows at the next re-list)."""
    return poll_until(
        lambda: outcome(pod, since),
        timeout=max(NODE_TIMEOUT, pod.relist_window()),
        expected=f"{pod.mirror_name} running, refused, or failing with a reason",
        describe=pod.describe,
        retry_on=(NodeCommandError,),
    )
