"""crictl inside a node, with its JSON turned into typed records.

`crictl pods|ps -o json` print the CRI ListPodSandboxResponse / ListContainersResponse as protobuf
JSON: camelCase names, enums as their names ("SANDBOX_READY"), int64 timestamps as strings of
nanoseconds. `crictl inspect -o json` prints {"status": ContainerStatus, "info": {...}} with the
timestamps rewritten as RFC 3339 strings, the zero time meaning "not yet". Both are parsed here
(cri-tools cmd/crictl/sandbox.go, container.go, util.go; cri-api api.proto).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.node.commands import ExecResult, NodeCommandError
from harness.node.shell import Shell

# Labels the kubelet puts on every sandbox and container it creates (pkg/kubelet/types/labels.go).
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REGEXP_META = set("\\.+*?()|[]{}^$")


def parse_cri_time(value: str | int | None) -> datetime | None:
    """A CRI timestamp (nanoseconds since the epoch, or RFC 3339) as an aware datetime.

    None for the unset values: 0, and Go's zero time (year 1) that `crictl inspect` prints.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int) or value.isdigit():
        nanoseconds = int(value)
        return _EPOCH + timedelta(microseconds=nanoseconds // 1000) if nanoseconds else None
    parsed = datetime.fromisoformat(value)
    return None if parsed.year == 1 else parsed


def _exact(text: str) -> str:
    """A Go regexp matching exactly `text`: crictl's --name and --namespace are patterns."""
    return "^" + "".join("\\" + char if char in _REGEXP_META else char for char in text) + "$"


@dataclass(frozen=True)
class PodSandbox:
    id: str
    name: str
    namespace: str
    uid: str
    state: str  # "SANDBOX_READY" or "SANDBOX_NOTREADY"
    created_at: datetime | None
    attempt: int
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.state == "SANDBOX_READY"

    @classmethod
    def from_cri(cls, item: Mapping[str, Any]) -> PodSandbox:
        metadata = item.get("metadata") or {}
        return cls(
            id=item["id"],
            name=metadata.get("name", ""),
            namespace=metadata.get("namespace", ""),
            uid=metadata.get("uid", ""),
            state=item.get("state", ""),
            created_at=parse_cri_time(item.get("createdAt")),
            attempt=int(metadata.get("attempt", 0)),
            labels=dict(item.get("labels") or {}),
            annotations=dict(item.get("annotations") or {}),
        )


@dataclass(frozen=True)
class ContainerStatus:
    id: str
    pod_sandbox_id: str
    name: str
    image: str
    image_ref: str
    state: str  # "CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED" or "CONTAINER_UNKNOWN"
    attempt: int
    created_at: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # Only `crictl inspect` reports these; None in records from `crictl ps`, and while not yet.
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: str = ""

    @property
    def running(self) -> bool:
        return self.state == "CONTAINER_RUNNING"

    @property
    def pod_name(self) -> str | None:
        return self.labels.get(POD_NAME_LABEL)

    @property
    def pod_namespace(self) -> str | None:
        return self.labels.get(POD_NAMESPACE_LABEL)

    @property
    def pod_uid(self) -> str | None:
        return self.labels.get(POD_UID_LABEL)

    @classmethod
    def from_cri(cls, item: Mapping[str, Any]) -> ContainerStatus:
        """From one entry of `crictl ps -o json`'s "containers"."""
        metadata = item.get("metadata") or {}
        return cls(
            id=item["id"],
            pod_sandbox_id=item.get("podSandboxId", ""),
            name=metadata.get("name", ""),
            image=(item.get("image") or {}).get("image", ""),
            image_ref=item.get("imageRef", ""),
            state=item.get("state", ""),
            attempt=int(metadata.get("attempt", 0)),
            created_at=parse_cri_time(item.get("createdAt")),
            labels=dict(item.get("labels") or {}),
            annotations=dict(item.get("annotations") or {}),
        )

    @classmethod
    def from_inspect(cls, inspected: Mapping[str, Any]) -> ContainerStatus:
        """From `crictl inspect -o json`.

        The CRI ContainerStatus carries no sandbox id; containerd's verbose info ("sandboxID") does.
        """
        status = inspected["status"]
        exited = status.get("state") == "CONTAINER_EXITED"
        return cls(
            id=status["id"],
            pod_sandbox_id=(inspected.get("info") or {}).get("sandboxID", ""),
            name=(status.get("metadata") or {}).get("name", ""),
            image=(status.get("image") or {}).get("image", ""),
            image_ref=status.get("imageRef", ""),
            state=status.get("state", ""),
            attempt=int((status.get("metadata") or {}).get("attempt", 0)),
            created_at=parse_cri_time(status.get("createdAt")),
            labels=dict(status.get("labels") or {}),
            annotations=dict(status.get("annotations") or {}),
            started_at=parse_cri_time(status.get("startedAt")),
            finished_at=parse_cri_time(status.get("finishedAt")),
            exit_code=int(status.get("exitCode", 0)) if exited else None,
            reason=status.get("reason", ""),
        )


class Crictl:
    """crictl inside one node. Lists come newest first."""

    def __init__(self, node: Shell) -> None:
        self.node = node

    def __repr__(self) -> str:
        return f"Crictl({self.node.name})"

    def pods(
        self,
        *,
        name: str | None = None,
        namespace: str | None = None,
        state: str | None = None,
        label: Mapping[str, str] | None = None,
    ) -> list[PodSandbox]:
        """Pod sandboxes, newest first.

        `name` and `namespace` match exactly (crictl takes patterns; they are anchored and quoted
        here); `state` is "ready" or "notready"; each `label` item becomes `--label key=value`.
        """
        argv = ["pods", "-o", "json"]
        if name is not None:
            argv += ["--name", _exact(name)]
        if namespace is not None:
            argv += ["--namespace", _exact(namespace)]
        if state is not None:
            argv += ["--state", state]
        argv += _label_args(label)
        sandboxes = [PodSandbox.from_cri(item) for item in self._json(*argv).get("items") or []]
        return sorted(sandboxes, key=_newest_first)

    def containers(
        self,
        *,
        all: bool = True,  # crictl's own flag name
        pod: str | None = None,
        name: str | None = None,
        state: str | None = None,
        label: Mapping[str, str] | None = None,
        pod_name: str | None = None,
        pod_namespace: str | None = None,
    ) -> list[ContainerStatus]:
        """Containers, newest first, exited ones included unless `all=False`.

        `pod` is a sandbox id; `name` (the container's name) matches exactly; `state` is "created",
        "running", "exited" or "unknown"; `label` selects by labels, and `pod_name`/`pod_namespace`
        by the ones the kubelet puts on every container.
        """
        argv = ["ps", "-o", "json"]
        if all:
            argv.append("--all")
        if pod is not None:
            argv += ["--pod", pod]
        if name is not None:
            argv += ["--name", _exact(name)]
        if state is not None:
            argv += ["--state", state]
        selected = dict(label or {})
        if pod_name is not None:
            selected[POD_NAME_LABEL] = pod_name
        if pod_namespace is not None:
            selected[POD_NAMESPACE_LABEL] = pod_namespace
        argv += _label_args(selected)
        found = [ContainerStatus.from_cri(item) for item in self._json(*argv).get("containers") or []]
        return sorted(found, key=_newest_first)

    def inspect(self, container_id: str) -> dict[str, Any]:
        """`crictl inspect -o json` as it is: {"status": ..., "info": ...}."""
        return self._json("inspect", "-o", "json", container_id)

    def status(self, container_id: str) -> ContainerStatus:
        """One container with what only inspect tells: started/finished times, exit code, reason."""
        return ContainerStatus.from_inspect(self.inspect(container_id))

    def stop(self, container_id: str) -> None:
        self.node.run("crictl", "stop", container_id)

    def remove(self, container_id: str) -> None:
        """Remove a container, stopping it first if it runs (`crictl rm --force`)."""
        self.node.run("crictl", "rm", "--force", container_id)

    def exec(self, container_id: str, *argv: str, check: bool = True) -> ExecResult:
        """Run argv in a container (synchronously, so its exit code is crictl's)."""
        return self.node.run("crictl", "exec", "--sync", container_id, *argv, check=check)

    def _json(self, *argv: str) -> dict[str, Any]:
        result = self.node.run("crictl", *argv)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError:  # seen with exit 0 and no output while containerd was busy
            raise NodeCommandError(
                ExecResult(result.argv, 1, result.stdout, f"not JSON: {result.stdout[:200]!r}", result.node)
            ) from None


def _label_args(labels: Mapping[str, str] | None) -> list[str]:
    return [arg for key, value in (labels or {}).items() for arg in ("--label", f"{key}={value}")]


def _newest_first(record: PodSandbox | ContainerStatus) -> float:
    return -(record.created_at or _EPOCH).timestamp()
