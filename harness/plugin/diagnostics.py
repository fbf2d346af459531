"""The failure bundle: what a person needs to see why a static-pod test failed.

For each node the test touched: the kubelet's journal since the test started, crictl's
view of pods and containers, the manifest directory listing; for each pod it placed: the
mirror pod as the API server has it; for each namespace: its events. Each piece is
collected on its own, so one that cannot be had (the API server is down, say) is noted
in the bundle and does not hide the others. Every file is written with secrets redacted
(harness.redact): the bundle goes into artifacts CI uploads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.paths import diagnostics_dir
from harness.redact import redact
from harness.staticpods.pods import StaticPods


@dataclass
class Bundle:
    directory: Path
    files: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, name: str, produce: Callable[[], str]) -> None:
        try:
            text = produce()
        except Exception as exc:  # a diagnostic must never mask the test's own failure
            self.errors.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")
            return
        path = self.directory / name
        path.write_text(redact(text))
        self.files.append(path)

    def summary(self) -> str:
        lines = [f"diagnostics written to {self.directory}:"]
        lines += [f"  {p.name} ({p.stat().st_size} bytes)" for p in self.files]
        lines += [f"  could not collect {e}" for e in self.errors]
        return "\n".join(lines)


def collect(artifacts: Path, nodeid: str, pods: StaticPods) -> Bundle:
    """Never raises: what cannot be collected is listed in the bundle instead."""
    bundle = Bundle(diagnostics_dir(artifacts, nodeid))
    try:
        bundle.directory.mkdir(parents=True, exist_ok=True)
        nodes = {p.node.name: p.node for p in pods.placed} or {pods.default_node().name: pods.default_node()}
    except Exception as exc:  # no directory, or no cluster to ask: the test's own failure stays in front
        bundle.errors.append(f"the bundle itself: {type(exc).__name__}: {exc}")
        return bundle
    for name, node in nodes.items():
        bundle.add(f"{name}-kubelet.log", lambda node=node: node.kubelet.journal(since=pods.started))
        bundle.add(
            f"{name}-crictl.txt",
            lambda node=node: "\n".join(
                node.run(*cmd, check=False).stdout for cmd in (("crictl", "pods"), ("crictl", "ps", "-a"))
            ),
        )
        bundle.add(
            f"{name}-manifests.txt",
            lambda node=node: (
                node.run("ls", "-la", node.kubelet.static_pod_path() or "/", check=False).stdout
            ),
        )
    core = pods.cluster.core
    for pod in pods.placed:
        bundle.add(
            f"mirror-{pod.mirror_name}.yaml",
            lambda pod=pod: yaml.safe_dump(
                core.api_client.sanitize_for_serialization(pod.mirror()) or "absent"
            ),
        )
    for namespace in sorted({p.namespace for p in pods.placed} or {"default"}):
        bundle.add(
            f"events-{namespace}.txt",
            lambda ns=namespace: "\n".join(
                f"{e.last_timestamp or e.event_time} {e.type} {e.reason} "
                f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}"
                for e in core.list_namespaced_event(ns).items
            ),
        )
    return bundle
