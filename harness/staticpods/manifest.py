"""Static pod manifests and the names the kubelet derives from them: pure data, no clients.

Placing a manifest on a node is the node layer's job; this module says what to write, where,
and which mirror pod the API server should then show.

The naming rules are the kubelet's own, in pkg/kubelet/config/common.go (kubernetes/kubernetes;
lines 62-64 and 85-87 in v1.37.2, 56-58 and 79-81 in v1.34.4, the same in v1.33.13; kubelets
of 2015 did not lower-case the node name):

    func generatePodName(name string, nodeName types.NodeName) string {
        return fmt.Sprintf("%s-%s", name, strings.ToLower(string(nodeName)))
    }

and, in applyDefaults, `if pod.Namespace == "" { pod.Namespace = metav1.NamespaceDefault }`.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.errors import HarnessError
from harness.paths import MANIFEST_FIXTURES

# Fixtures name this instead of an image: only the harness knows the test image's tag.
IMAGE_PLACEHOLDER = "TESTAPP_IMAGE"
# metav1.NamespaceDefault: what the kubelet gives a static pod whose manifest has no namespace.
DEFAULT_NAMESPACE = "default"
# Annotations the kubelet puts on a static pod and copies to its mirror pod
# (pkg/kubelet/types/pod_update.go; config.mirror is set by pkg/kubelet/pod/mirror_client.go).
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONFIG_SEEN_ANNOTATION = "kubernetes.io/config.seen"

# A pod name must be a DNS-1123 subdomain (<= 253); names made here stay a DNS-1123 label
# (<= 63), so `<name>-<node>` stays valid for any node name that is itself a hostname label.
MAX_NAME_LENGTH = 63
# Like the API server's generateName suffixes: no vowels, so no words.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SUFFIX_LENGTH = 5
_NOT_IN_LABEL = re.compile(r"[^a-z0-9-]+")

RestartPolicy = Literal["Always", "OnFailure", "Never"]


def mirror_pod_name(pod_name: str, node_name: str) -> str:
    """The mirror pod's name: `<pod name>-<node name, lower-cased>` (kubelet generatePodName)."""
    return f"{pod_name}-{node_name.lower()}"


def unique_name(prefix: str) -> str:
    """A fresh pod name `<prefix>-<5 random chars>`, so tests never meet each other's pods.

    The prefix is made DNS-1123 (lower-cased, other characters to '-') and cut so the name
    fits in 63 characters; a test may pass its own name.
    """
    room = MAX_NAME_LENGTH - _SUFFIX_LENGTH - 1
    cleaned = _NOT_IN_LABEL.sub("-", prefix.lower()).strip("-")[:room].strip("-") or "pod"
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(_SUFFIX_LENGTH))
    return f"{cleaned}-{suffix}"


def read_raw_fixture(name: str) -> bytes:
    """A manifest fixture's bytes as they are, for fixtures the kubelet must refuse."""
    return _fixture_path(name).read_bytes()


class Manifest:
    """A Pod manifest. Every `with_*` returns a new Manifest, so a fixture can be shared."""

    __slots__ = ("_pod",)

    def __init__(self, pod: Mapping[str, Any]) -> None:
        """ValueError when `pod` lacks what every Pod has (kind Pod, a name, named containers)."""
        problem = _pod_problem(pod)
        if problem:
            raise ValueError(problem)
        self._pod: dict[str, Any] = copy.deepcopy(dict(pod))

    @classmethod
    def from_fixture(cls, name: str, *, image: str) -> Manifest:
        """fixtures/manifests/<name>.yaml, with `image` wherever it says TESTAPP_IMAGE."""
        path = _fixture_path(name)
        return cls(_read_pod(path, f"manifest fixture {path}", "read_raw_fixture", image))

    @classmethod
    def from_file(cls, path: Path | str, *, image: str | None = None) -> Manifest:
        """A Pod manifest of your own (YAML or JSON), with `image`, when given, wherever it says
        TESTAPP_IMAGE. One that cannot be read, is not YAML or is not a Pod is a HarnessError of
        one line that names the file."""
        return cls(_read_pod(Path(path), f"manifest {path}", "StaticPods.place_file", image))

    # -- reading ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._pod["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        """As written; None means the kubelet will use "default" (DEFAULT_NAMESPACE)."""
        return self._pod["metadata"].get("namespace")

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._pod["metadata"].get("labels") or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self._pod["metadata"].get("annotations") or {})

    @property
    def container_names(self) -> list[str]:
        return [c["name"] for c in self._pod["spec"]["containers"]]

    def image_of(self, container: str) -> str:
        return _find(self._pod, container)["image"]

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._pod)

    # -- deriving: each works on a copy ---------------------------------------------------------

    def with_name(self, name: str) -> Manifest:
        pod = self.to_dict()
        pod["metadata"]["name"] = name
        return Manifest(pod)

    def with_namespace(self, namespace: str | None) -> Manifest:
        """None removes the namespace, leaving the kubelet's default to apply."""
        pod = self.to_dict()
        pod["metadata"].pop("namespace", None)
        if namespace is not None:
            pod["metadata"]["namespace"] = namespace
        return Manifest(pod)

    def with_labels(self, labels: Mapping[str, str] | None = None, /, **more: str) -> Manifest:
        """Adds or overrides labels; a mapping allows keys such as `app.kubernetes.io/name`."""
        pod = self.to_dict()
        pod["metadata"]["labels"] = {**self.labels, **(labels or {}), **more}
        return Manifest(pod)

    def with_annotations(self, annotations: Mapping[str, str] | None = None, /, **more: str) -> Manifest:
        """Adds or overrides annotations; a mapping allows keys with '/' or '.'."""
        pod = self.to_dict()
        pod["metadata"]["annotations"] = {**self.annotations, **(annotations or {}), **more}
        return Manifest(pod)

    def with_image(self, image: str, *, container: str | None = None) -> Manifest:
        """Sets the image of one container, or of every container when none is named."""
        pod = self.to_dict()
        for target in [_find(pod, container)] if container else pod["spec"]["containers"]:
            target["image"] = image
        return Manifest(pod)

    def with_container_renamed(self, container: str, new_name: str) -> Manifest:
        pod = self.to_dict()
        _find(pod, container)["name"] = new_name
        return Manifest(pod)

    def with_env(self, container: str, **env: str) -> Manifest:
        """Sets plain-value env vars, replacing any of the same name (valueFrom included)."""
        pod = self.to_dict()
        target = _find(pod, container)
        kept = [e for e in target.get("env", []) if e["name"] not in env]
        target["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]
        return Manifest(pod)

    def with_args(self, container: str, *args: str) -> Manifest:
        """Replaces the container's args (the image's entrypoint is /testapp)."""
        pod = self.to_dict()
        _find(pod, container)["args"] = list(args)
        return Manifest(pod)

    def with_grace_period(self, seconds: int) -> Manifest:
        pod = self.to_dict()
        pod["spec"]["terminationGracePeriodSeconds"] = seconds
        return Manifest(pod)

    def with_restart_policy(self, policy: RestartPolicy) -> Manifest:
        pod = self.to_dict()
        pod["spec"]["restartPolicy"] = policy
        return Manifest(pod)

    def with_spec(self, **fields: Any) -> Manifest:
        """Sets top-level spec fields as given (schedulerName=..., volumes=[...])."""
        pod = self.to_dict()
        pod["spec"].update(copy.deepcopy(fields))
        return Manifest(pod)

    def without_type_meta(self, *fields: Literal["apiVersion", "kind"]) -> Manifest:
        """Drops apiVersion and kind, or only those named (claim S11 says the kubelet does without them)."""
        pod = self.to_dict()
        for key in fields or ("apiVersion", "kind"):
            pod.pop(key, None)
        return Manifest(pod)

    # -- rendering ----------------------------------------------------------------------------

    def to_yaml(self) -> bytes:
        return yaml.safe_dump(self._pod, sort_keys=False).encode()

    def to_json(self) -> bytes:
        return json.dumps(self._pod, indent=2).encode() + b"\n"

    def render_for(self, filename: str) -> bytes:
        """The file's bytes: JSON for a `.json` name, YAML otherwise (the kubelet reads both)."""
        return self.to_json() if filename.endswith(".json") else self.to_yaml()

    # -- value semantics: equal pods are equal manifests -----------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self._pod == other._pod

    def __hash__(self) -> int:
        return hash(json.dumps(self._pod, sort_keys=True))

    def __repr__(self) -> str:
        return f"Manifest({self.name!r}, namespace={self.namespace!r})"


def _read_pod(path: Path, what: str, raw: str, image: str | None) -> dict[str, Any]:
    """The pod in `path`; `raw` says how to place a file that is broken on purpose."""
    try:
        pod = yaml.safe_load(path.read_bytes())
    except OSError as err:
        raise HarnessError(f"cannot read {what}: {err.strerror}") from None
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())
        raise HarnessError(f"{what} is not YAML ({problem}): to place a broken file, use {raw}") from None
    problem = _pod_problem(pod)
    if problem:
        raise HarnessError(f"{what} is not a Pod manifest: {problem}")
    for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
        if image is not None and container.get("image") == IMAGE_PLACEHOLDER:
            container["image"] = image
    return pod


def _fixture_path(name: str) -> Path:
    path = MANIFEST_FIXTURES / f"{name}.yaml"
    if "/" in name or not path.is_file():
        available = ", ".join(sorted(p.stem for p in MANIFEST_FIXTURES.glob("*.yaml")))
        raise HarnessError(f"no manifest fixture {name!r} in {MANIFEST_FIXTURES} (have: {available})")
    return path


def _find(pod: Mapping[str, Any], container: str) -> dict[str, Any]:
    """A container or an init container, by name."""
    candidates = [*pod["spec"]["containers"], *pod["spec"].get("initContainers", [])]
    for candidate in candidates:
        if candidate["name"] == container:
            return candidate
    names = [c["name"] for c in candidates]
    raise ValueError(f"pod {pod['metadata']['name']!r} has no container {container!r} (has {names})")


def _pod_problem(pod: object) -> str | None:
    """Why `pod` is not a Pod manifest, or None: the shape checks the harness relies on."""
    if not isinstance(pod, Mapping):
        return f"top level is {type(pod).__name__}, not a mapping"
    if pod.get("kind", "Pod") != "Pod":
        return f"kind is {pod['kind']!r}, not 'Pod'"
    if pod.get("apiVersion", "v1") != "v1":
        return f"apiVersion is {pod['apiVersion']!r}, not 'v1'"
    metadata = pod.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        return "metadata.name is missing"
    spec = pod.get("spec")
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    if not isinstance(containers, list) or not containers:
        return "spec.containers is missing or empty"
    if not all(isinstance(c, Mapping) and isinstance(c.get("name"), str) for c in containers):
        return "a container has no name"
    return None
