"""What an upgrade check records: each static pod before and after the kubelet swap.

Plain frozen dataclasses with a JSON round trip, so that a report can be rebuilt from
upgrade.json alone. Times are timezone-aware datetimes (RFC 3339 in JSON).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from harness.staticpods.ready_watch import ReadyTransition

ContainerKind = Literal["init", "sidecar", "container"]
T = TypeVar("T")


@dataclass(frozen=True)
class ContainerRecord:
    """One container of a static pod: ids and attempt from crictl, the rest from the mirror status."""

    name: str
    kind: ContainerKind
    container_id: str
    attempt: int
    restart_count: int
    started_at: datetime | None
    state: str  # running, waiting or terminated (the mirror status's state key)


@dataclass(frozen=True)
class PodRecord:
    """One static pod at one moment, seen through its mirror and through crictl."""

    namespace: str
    mirror_name: str
    mirror_uid: str
    config_hash: str  # the kubernetes.io/config.hash annotation
    phase: str
    sandbox_ids: tuple[str, ...]  # crictl pods for this pod, newest first
    containers: tuple[ContainerRecord, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.mirror_name}"

    def container(self, name: str) -> ContainerRecord | None:
        return next((c for c in self.containers if c.name == name), None)


@dataclass(frozen=True)
class SwapObservation:
    """What was seen of one mirror while the kubelet was swapped.

    `transitions` starts with the state seen when the watch started; `log_lines` are the
    kubelet's lines (and, if the orchestration adds them, event messages) about the pod.
    """

    key: str  # namespace/mirror name
    transitions: tuple[ReadyTransition, ...]
    log_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class BehaviourResult:
    """One post-upgrade behaviour checked on the new kubelet."""

    behaviour: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Step:
    """One step of the upgrade as the orchestration took it (kubeadm, a kubelet swap), time-stamped."""

    time: datetime
    what: str


@dataclass(frozen=True)
class Outage:
    """An interval in which the API server failed the prober: `what` is "readyz" (GET /readyz not 200)
    or "request" (a list of the control-plane pods failed). `end` is the first success after it."""

    what: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class MirrorSeen:
    """A control-plane mirror pod as one of the prober's lists saw it."""

    time: datetime
    uid: str
    config_hash: str
    ready: bool
    image: str


@dataclass(frozen=True)
class ControlPlanePodRecord:
    """One of kubeadm's control-plane static pods across a hop on the control-plane node."""

    component: str  # etcd, kube-apiserver, kube-controller-manager, kube-scheduler
    before: MirrorSeen | None
    after: MirrorSeen | None
    seen: tuple[MirrorSeen, ...]  # every list of the prober in which the mirror's uid or Ready changed
    manifest_changed: datetime | None  # the manifest's mtime, when kubeadm rewrote it during the hop
    wanted_image: str  # the image TO's kubeadm deploys for it


@dataclass(frozen=True)
class UpgradeRecord:
    """One hop: the node's kubelet from `from_version` to `to_version`. Records made before a field
    was added read back with its default."""

    from_version: str
    to_version: str
    node: str
    swap_started: datetime
    watch_ended: datetime
    node_ready_seconds: float | None  # kubelet restart to node Ready; None: never Ready
    before: tuple[PodRecord, ...]
    after: tuple[PodRecord, ...]
    observations: tuple[SwapObservation, ...]
    behaviours: tuple[BehaviourResult, ...] = field(default=())
    steps: tuple[Step, ...] = field(default=())
    user_pods: tuple[str, ...] = field(default=())  # keys of the pods from the user's manifests
    # SCOPE=cluster, the control-plane node's hop: kubeadm's static pods, and the API server's outages
    # (the prober runs from before the first hop to after the last; each hop keeps those in its time).
    control_plane: tuple[ControlPlanePodRecord, ...] = field(default=())
    api_outages: tuple[Outage, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(_encode(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> UpgradeRecord:
        return _decode(cls, json.loads(text))


def lines_about(namespace: str, name: str, lines: typing.Iterable[str]) -> tuple[str, ...]:
    """The kubelet journal lines that name this pod as klog does: pod="namespace/name"."""
    needle = f'"{namespace}/{name}"'
    return tuple(line for line in lines if needle in line)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _decode(cls: type[T], data: dict[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    return cls(
        **{f.name: _value(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
    )


def _value(hint: Any, raw: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if raw is None:
            return None
        (inner,) = (a for a in typing.get_args(hint) if a is not type(None))
        return _value(inner, raw)
    if origin is tuple:
        return tuple(_value(typing.get_args(hint)[0], v) for v in raw)
    if hint is datetime:
        return datetime.fromisoformat(raw)
    if dataclasses.is_dataclass(hint):
        return _decode(hint, raw)
    return raw
