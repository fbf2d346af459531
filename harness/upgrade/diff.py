"""Compare each static pod before and after the kubelet swap, and give the verdict.

A pod is disrupted when a container restarted, its sandbox or its mirror was recreated,
its config.hash changed, or it is not Running at the end. A Ready or Started reset that none
of these explains (a status reset across the kubelet restart) depends on the new kubelet's
version (the version contract, KEP-4781): a kubelet that keeps container status across its
restart (Behaviour.KEEPS_STATUS_ACROSS_RESTART) must not reset it, so there the reset is a
disruption; before, every kubelet restart reset Ready (ChangeContainerStatusOnKubeletRestart),
patch upgrades included, so the reset is reported as expected behaviour, with the KEP named.

The kubelet's reasons come from its own messages, as k8s.io/kubernetes v1.31.14 words
them (the same from v1.30 to v1.35):
- pkg/kubelet/kuberuntime/kuberuntime_manager.go, computePodActions:
  `Container %s definition changed`, `Container %s failed liveness probe`,
  `Container %s failed startup probe`, each followed by `, will be restarted` when the
  container is started again; logged at V(2) as "Message for Container of pod" with
  containerMessage="...", and the same text is the message of the Killing event.
- kuberuntime_container.go (v1.32+), a sidecar: `Init container %s definition changed`.
- kuberuntime_manager.go, SyncPod: the SandboxChanged event
  `Pod sandbox changed, it will be killed and re-created.`
- pkg/kubelet/kubelet.go, SyncPod: `Deleted mirror pod because it is outdated` (V(0)).
- kuberuntime_container.go, killContainer: the Killing event `Stopping container %s`, which is
  how the containers of a pod recreated under a new config.hash (a new pod UID) end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Literal

from harness.upgrade.records import (
    ContainerKind,
    ContainerRecord,
    ControlPlanePodRecord,
    PodRecord,
    ReadyTransition,
    SwapObservation,
    UpgradeRecord,
)
from harness.versions import Behaviour, KubeVersion, since

CONTAINER_REASON = re.compile(
    r"(?:Init container|Container) (?P<name>[^\s\",]+) "
    r"(?:definition changed|failed liveness probe|failed startup probe)(?:, will be restarted)?"
)
# The Killing event of a container the kubelet stopped (kuberuntime_container.go killContainer);
# a pod that was recreated under a new config.hash loses its containers this way.
STOPPED = re.compile(r"Killing: Stopping container (?P<name>[^\s\",]+)")
POD_REASONS = (
    "Pod sandbox changed, it will be killed and re-created.",
    "Deleted mirror pod because it is outdated",
)
_MINOR = re.compile(r"^v?1\.(\d+)\.")
KEP_4781 = Behaviour.KEEPS_STATUS_ACROSS_RESTART


@dataclass(frozen=True)
class ContainerFinding:
    name: str
    kind: ContainerKind
    before: ContainerRecord | None  # None: a container that only the new kubelet runs
    after: ContainerRecord | None  # None: gone after the swap
    reason: str | None  # the kubelet's own message, when it logged one

    @property
    def restarted(self) -> bool:
        if self.before is None or self.after is None:
            return True
        return (
            self.after.container_id != self.before.container_id
            or self.after.attempt > self.before.attempt
            or self.after.restart_count > self.before.restart_count
        )

    @property
    def running_at_end(self) -> bool:
        if self.after is None:
            return False
        # A plain init container has done its work once it terminated.
        return self.after.state == ("terminated" if self.kind == "init" else "running")


@dataclass(frozen=True)
class ReadyFlaps:
    flaps: int  # Ready True -> False changes during the watch
    not_ready_seconds: float  # total time not Ready during the watch


@dataclass(frozen=True)
class PodFinding:
    key: str
    before: PodRecord
    after: PodRecord | None  # None: no mirror after the swap
    containers: tuple[ContainerFinding, ...]
    ready: ReadyFlaps
    reasons: tuple[str, ...]  # the kubelet's pod-level messages
    keeps_status: bool  # the new kubelet keeps Ready and Started across its restart (KEP-4781)

    @property
    def sandbox_recreated(self) -> bool:
        return self.after is None or self.after.sandbox_ids[:1] != self.before.sandbox_ids[:1]

    @property
    def mirror_recreated(self) -> bool:
        return self.after is not None and self.after.mirror_uid != self.before.mirror_uid

    @property
    def hash_changed(self) -> bool:
        return self.after is not None and self.after.config_hash != self.before.config_hash

    @property
    def running_at_end(self) -> bool:
        return (
            self.after is not None
            and self.after.phase == "Running"
            and all(c.running_at_end for c in self.containers)
        )

    @property
    def status_reset(self) -> bool:
        """Ready or Started went False with no restart, new sandbox or new mirror to explain it."""
        explained = (
            self.sandbox_recreated or self.mirror_recreated or any(c.restarted for c in self.containers)
        )
        return self.ready.flaps > 0 and not explained

    @property
    def disruptions(self) -> tuple[str, ...]:
        """What happened to this pod, worded for a report; empty when nothing did."""
        if self.after is None:
            return ("gone: no mirror after the swap",)
        restarted = sum(c.restarted for c in self.containers)
        found = [
            (restarted > 0, f"{restarted} of {len(self.containers)} containers restarted"),
            (self.sandbox_recreated, "sandbox recreated"),
            (self.mirror_recreated, "mirror recreated"),
            (self.hash_changed, "config.hash changed"),
            (not self.running_at_end, "not Running at the end"),
            (
                self.status_reset and self.keeps_status,
                f"Ready/Started reset across the kubelet restart ({self._reset_text}): a kubelet of "
                f"{since(KEP_4781)}+ keeps container status (KEP-4781)",
            ),
        ]
        return tuple(text for hit, text in found if hit)

    @property
    def notes(self) -> tuple[str, ...]:
        """What happened that the new kubelet's version explains: reported, never a disruption."""
        if self.status_reset and not self.keeps_status:
            return (
                f"Ready/Started reset across the kubelet restart ({self._reset_text}): expected before "
                f"{since(KEP_4781)} (KEP-4781, ChangeContainerStatusOnKubeletRestart)",
            )
        return ()

    @property
    def _reset_text(self) -> str:
        return f"{self.ready.flaps}x, {self.ready.not_ready_seconds:.1f} s not Ready"

    @property
    def disrupted(self) -> bool:
        return bool(self.disruptions)


@dataclass(frozen=True)
class ControlPlaneFinding:
    """One of kubeadm's control-plane pods across a hop: a pod whose manifest kubeadm rewrote should be
    replaced once, one whose manifest it left alone not at all; either way Ready at TO's image at the end."""

    record: ControlPlanePodRecord

    @property
    def key(self) -> str:
        return f"kube-system/{self.record.component}"

    @property
    def replacements(self) -> int:
        """How many times the mirror's uid changed (each replacement of the static pod gives a new one)."""
        uids = [m.uid for m in (self.record.before, *self.record.seen) if m is not None]
        return sum(1 for old, new in pairwise(uids) if old != new)

    @property
    def manifest_changed(self) -> bool:
        return self.record.manifest_changed is not None

    @property
    def ready_seconds(self) -> float | None:
        """From the manifest's change to the first list that saw the final mirror Ready."""
        after, changed = self.record.after, self.record.manifest_changed
        if after is None or changed is None:
            return None
        ready = next((m.time for m in self.record.seen if m.uid == after.uid and m.ready), None)
        return (ready - changed).total_seconds() if ready else None

    @property
    def at_wanted_image(self) -> bool:
        return self.record.after is not None and self.record.after.image == self.record.wanted_image

    @property
    def disruptions(self) -> tuple[str, ...]:
        after = self.record.after
        if after is None:
            return ("gone: no mirror at the end",)
        expected = 1 if self.manifest_changed else 0
        manifest = "its manifest changed once" if self.manifest_changed else "its manifest did not change"
        found = [
            (self.replacements != expected, f"replaced {self.replacements} times, {manifest}"),
            (not self.at_wanted_image, f"runs {after.image}, not TO's {self.record.wanted_image}"),
            (not after.ready, "not Ready at the end"),
        ]
        return tuple(text for hit, text in found if hit)

    @property
    def disrupted(self) -> bool:
        return bool(self.disruptions)


@dataclass(frozen=True)
class Verdict:
    disrupted: int
    total: int
    upgrade: Literal["patch", "minor"]
    behaviours_failed: int
    behaviours: int

    @property
    def classification(self) -> Literal["finding", "regression"] | None:
        """In-place minor upgrades are unsupported upstream: a disruption there is a finding."""
        if not self.disrupted:
            return None
        return "regression" if self.upgrade == "patch" else "finding"

    @property
    def line(self) -> str:
        text = (
            f"{self.disrupted} of {self.total} static pods disrupted: {self.classification}"
            if self.disrupted
            else "no disruption"
        )
        if self.behaviours_failed:
            text += f"; {self.behaviours_failed} of {self.behaviours} post-upgrade behaviours failed"
        return text


@dataclass(frozen=True)
class UpgradeDiff:
    record: UpgradeRecord
    pods: tuple[PodFinding, ...]
    verdict: Verdict
    control_plane: tuple[ControlPlaneFinding, ...] = ()


def diff_upgrade(record: UpgradeRecord) -> UpgradeDiff:
    after = {p.key: p for p in record.after}
    observed = {o.key: o for o in record.observations}
    keeps = keeps_status(record.to_version)
    pods = tuple(
        diff_pod(pod, after.get(pod.key), observed.get(pod.key), record.watch_ended, keeps_status=keeps)
        for pod in record.before
    )
    control_plane = tuple(map(ControlPlaneFinding, record.control_plane))
    verdict = Verdict(
        disrupted=sum(p.disrupted for p in pods) + sum(c.disrupted for c in control_plane),
        total=len(pods) + len(control_plane),
        upgrade=upgrade_kind(record.from_version, record.to_version),
        behaviours_failed=sum(not b.passed for b in record.behaviours),
        behaviours=len(record.behaviours),
    )
    return UpgradeDiff(record, pods, verdict, control_plane)


def diff_pod(
    before: PodRecord,
    after: PodRecord | None,
    seen: SwapObservation | None,
    watch_ended: datetime,
    *,
    keeps_status: bool,
) -> PodFinding:
    lines = seen.log_lines if seen else ()
    reasons = container_reasons(lines)
    if after is not None and after.config_hash != before.config_hash:
        # A new config.hash is a new pod UID: the kubelet killed the old pod, not its containers one by one.
        recreated = f"pod recreated: config.hash {before.config_hash[:8]} -> {after.config_hash[:8]}"
        for line in lines:
            for match in STOPPED.finditer(line):
                reasons.setdefault(match.group("name"), f"{recreated} (Killing: {match.group(0)[9:]})")
        for container in before.containers:
            reasons.setdefault(container.name, recreated)
    # Before's containers first, in their order, then any that only the new kubelet runs.
    kinds = {c.name: c.kind for c in (*(after.containers if after else ()), *before.containers)}
    names = dict.fromkeys([*(c.name for c in before.containers), *kinds])
    containers = tuple(
        ContainerFinding(
            name,
            kinds[name],
            before.container(name),
            after.container(name) if after else None,
            reasons.get(name),
        )
        for name in names
    )
    return PodFinding(
        key=before.key,
        before=before,
        after=after,
        containers=containers,
        ready=ready_flaps(seen.transitions if seen else (), watch_ended),
        reasons=tuple(r for r in POD_REASONS if any(r in line for line in lines)),
        keeps_status=keeps_status,
    )


def container_reasons(lines: Iterable[str]) -> dict[str, str]:
    """The kubelet's first restart message for each container named in `lines`."""
    reasons: dict[str, str] = {}
    for line in lines:
        for match in CONTAINER_REASON.finditer(line):
            reasons.setdefault(match.group("name"), match.group(0))
    return reasons


def ready_flaps(transitions: Iterable[ReadyTransition], watch_ended: datetime) -> ReadyFlaps:
    """Count True -> False changes and add up the time spent not Ready until the watch ended."""
    ordered = sorted(transitions, key=lambda t: t.time)
    flaps = 0
    not_ready = 0.0
    for i, step in enumerate(ordered):
        if i and ordered[i - 1].ready and not step.ready:
            flaps += 1
        if not step.ready:
            until = ordered[i + 1].time if i + 1 < len(ordered) else watch_ended
            not_ready += max(0.0, (until - step.time).total_seconds())
    return ReadyFlaps(flaps, not_ready)


def upgrade_kind(from_version: str, to_version: str) -> Literal["patch", "minor"]:
    """Same minor: a patch upgrade; otherwise a minor one."""
    return "patch" if _minor(from_version) == _minor(to_version) else "minor"


def keeps_status(to_version: str) -> bool:
    """Whether the new kubelet (v1.35.0, or a development build's v1.35.0-alpha.1+abc) keeps Ready and
    Started across its restart: the version contract of KEP-4781."""
    return KubeVersion(1, _minor(to_version), 0).has(KEP_4781)


def _minor(version: str) -> int:
    match = _MINOR.match(version)
    if not match:
        raise ValueError(f"not a Kubernetes version: {version!r}")
    return int(match.group(1))


@dataclass(frozen=True)
class CheckResult:
    """Every hop of one check, and its gate: EXPECT=no-disruption fails on any disrupted pod in any hop;
    EXPECT=report never on a disruption. Both fail when the new kubelet did not handle static pods (a
    post-upgrade behaviour failed, the node never got Ready, the watch stopped)."""

    hops: tuple[UpgradeDiff, ...]
    expect: str

    @property
    def disrupted(self) -> bool:
        return any(h.verdict.disrupted for h in self.hops)

    @property
    def line(self) -> str:
        if len(self.hops) == 1:
            return self.hops[0].verdict.line
        return "; ".join(
            f"{h.record.from_version} → {h.record.to_version}: {h.verdict.line}" for h in self.hops
        )

    @property
    def failures(self) -> tuple[str, ...]:
        """Why the gate fails, one line each; empty when it passes."""
        found = [
            f"{h.record.from_version} → {h.record.to_version}: {b.behaviour}: {b.detail}"
            for h in self.hops
            for b in h.record.behaviours
            if not b.passed
        ]
        if self.expect == "no-disruption":
            found += [
                f"{h.record.from_version} → {h.record.to_version}: {pod.key}: {'; '.join(pod.disruptions)}"
                for h in self.hops
                for pod in (*h.pods, *h.control_plane)
                if pod.disrupted
            ]
        return tuple(found)


def check_result(records: Iterable[UpgradeRecord], expect: str) -> CheckResult:
    return CheckResult(tuple(map(diff_upgrade, records)), expect)
