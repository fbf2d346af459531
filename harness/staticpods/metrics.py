"""The kubelet's own count of the pods it works on, read from its /metrics through the API server.

kubelet_mirror_pods is the number of mirror pods the kubelet tries to keep; kubelet_working_pods
counts its pod workers by `config` (desired, orphan, runtime_only), `lifecycle` (sync,
terminating, terminated) and `static`; kubelet_active_pods counts the pods admission considers,
kubelet_desired_pods those the kubelet's config sources want, each by `static`
(pkg/kubelet/metrics/metrics.go). Upstream's
mirror_pod_grace_period_test.go reads the same series around a static pod's termination.
"""

from __future__ import annotations

import re

from kubernetes import client as k8s

# One sample line of the Prometheus text format: name, optional {labels}, value (timestamps unused).
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')

Sample = tuple[str, frozenset[tuple[str, str]]]


def parse_samples(text: str) -> dict[Sample, float]:
    """Samples of the Prometheus text format, keyed by (name, frozenset of label pairs)."""
    samples: dict[Sample, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue  # comments (# HELP, # TYPE) and blank lines
        labels = frozenset((m["key"], m["value"]) for m in _LABEL.finditer(match["labels"] or ""))
        samples[(match["name"], labels)] = float(match["value"])
    return samples


class KubeletMetrics:
    """The samples of one node's kubelet at one moment."""

    def __init__(self, samples: dict[Sample, float]) -> None:
        self.samples = samples

    @classmethod
    def read(cls, core: k8s.CoreV1Api, node_name: str) -> KubeletMetrics:
        text = core.connect_get_node_proxy_with_path(node_name, "metrics")
        return cls(parse_samples(text))

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels; a series the kubelet has not reported yet counts as 0."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    @property
    def mirror_pods(self) -> float:
        return self.value("kubelet_mirror_pods")

    @property
    def static_active(self) -> float:
        """Static pods admission considers (kubelet_active_pods{static="true"})."""
        return self.value("kubelet_active_pods", static="true")

    @property
    def static_desired(self) -> float:
        """Static pods the config sources want (kubelet_desired_pods{static="true"})."""
        return self.value("kubelet_desired_pods", static="true")

    def static_workers(self, config: str, lifecycle: str) -> float:
        """Pod workers of static pods in one config state and lifecycle phase."""
        return self.value("kubelet_working_pods", config=config, lifecycle=lifecycle, static="true")
