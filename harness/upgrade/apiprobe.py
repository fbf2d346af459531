"""The API server and kubeadm's control-plane pods watched through a kubeadm upgrade (SCOPE=cluster).

A prober thread runs from before the first hop until after the last: each second it asks GET /readyz
and makes one request (a list of the control-plane node's kubeadm pods, tier=control-plane), and keeps
both answers with the mirrors that list saw. The pure functions below turn the samples into outage
intervals (a failed answer until the next good one) and into each control-plane pod's record of a hop
(its mirror before and after, every change of uid or Ready in between).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from harness.staticpods.control_plane import CONTROL_PLANE_LABEL, api_server_ready
from harness.staticpods.manifest import CONFIG_HASH_ANNOTATION
from harness.staticpods.ready_watch import ready_of
from harness.upgrade.records import ControlPlanePodRecord, MirrorSeen, Outage
from harness.waiting import scaled

# kubeadm's control-plane static pods, by their `component` label.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
PROBE_INTERVAL = 1.0  # seconds between samples
REQUEST_TIMEOUT = 5  # seconds (scaled) one /readyz or list may take
WHAT = ("readyz", "request")


@dataclass(frozen=True)
class Sample:
    time: datetime
    readyz: bool
    request: bool
    mirrors: tuple[tuple[str, MirrorSeen], ...]  # (component, mirror) as the request listed them


class ApiProber:
    """Samples the API server every PROBE_INTERVAL seconds in a thread of its own while `running`."""

    def __init__(self, api: k8s.ApiClient, node_name: str) -> None:
        self.api, self.node_name = api, node_name
        self.core = k8s.CoreV1Api(api)
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-prober", daemon=True)

    def sample(self) -> Sample:
        started = datetime.now(UTC)
        readyz = api_server_ready(self.api)
        selector = ",".join(f"{k}={v}" for k, v in CONTROL_PLANE_LABEL.items())
        try:
            listed = self.core.list_namespaced_pod(
                "kube-system",
                label_selector=selector,
                field_selector=f"spec.nodeName={self.node_name}",
                _request_timeout=scaled(REQUEST_TIMEOUT),
            )
        except (ApiException, HTTPError, OSError):
            return Sample(started, readyz, False, ())
        return Sample(started, readyz, True, tuple(_mirrors(listed.items, started)))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.sample())
            self._stop.wait(PROBE_INTERVAL)

    @contextmanager
    def running(self) -> Iterator[ApiProber]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=scaled(REQUEST_TIMEOUT) * 2 + PROBE_INTERVAL)


def _mirrors(pods: Iterable[k8s.V1Pod], time: datetime) -> Iterator[tuple[str, MirrorSeen]]:
    for pod in pods:
        component = (pod.metadata.labels or {}).get("component", "")
        if component in COMPONENTS:
            yield (
                component,
                MirrorSeen(
                    time=time,
                    uid=pod.metadata.uid,
                    config_hash=(pod.metadata.annotations or {}).get(CONFIG_HASH_ANNOTATION, ""),
                    ready=ready_of(pod)[0],
                    image=pod.spec.containers[0].image,
                ),
            )


def outages(samples: Sequence[Sample], start: datetime, end: datetime) -> tuple[Outage, ...]:
    """The intervals between `start` and `end` in which /readyz or the request failed: from the first
    failed sample to the next good one (or `end`), each kind on its own."""
    found = []
    within = [s for s in samples if start <= s.time <= end]
    for what in WHAT:
        down: datetime | None = None
        for sample in within:
            ok = getattr(sample, what)
            if not ok and down is None:
                down = sample.time
            elif ok and down is not None:
                found.append(Outage(what, down, sample.time))
                down = None
        if down is not None:
            found.append(Outage(what, down, end))
    return tuple(sorted(found, key=lambda o: (o.start, o.what)))


def failed_seconds(found: Iterable[Outage], what: str) -> float:
    return sum((o.end - o.start).total_seconds() for o in found if o.what == what)


def control_plane_pods(
    samples: Sequence[Sample],
    start: datetime,
    end: datetime,
    manifest_changed: dict[str, datetime | None],
    wanted_images: dict[str, str],
) -> tuple[ControlPlanePodRecord, ...]:
    """Each component's record of the hop from `start` to `end`: its mirror in the last good list
    before the hop and in the last one of it, and each list in between in which uid or Ready changed."""
    records = []
    for component in COMPONENTS:
        before = _last_seen(component, (s for s in samples if s.time < start))
        during = [
            dict(s.mirrors)[component]
            for s in samples
            if start <= s.time <= end and component in dict(s.mirrors)
        ]
        changes: list[MirrorSeen] = []
        for mirror in during:
            last = changes[-1] if changes else before
            if last is None or (last.uid, last.ready) != (mirror.uid, mirror.ready):
                changes.append(mirror)
        records.append(
            ControlPlanePodRecord(
                component=component,
                before=before,
                after=during[-1] if during else before,
                seen=tuple(changes),
                manifest_changed=manifest_changed.get(component),
                wanted_image=wanted_images.get(component, ""),
            )
        )
    return tuple(records)


def _last_seen(component: str, samples: Iterable[Sample]) -> MirrorSeen | None:
    found = None
    for sample in samples:
        found = dict(sample.mirrors).get(component, found)
    return found
