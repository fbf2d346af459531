"""The versions this project runs, as data: one row for each Kubernetes minor it supports.

The node-image builder (Go toolchain), the kind configs (cgroup v1 settings), the
version-sensitive tests (which behaviour a kubelet has), the upgrade planner (the newest patch of
each minor) and the conformance defaults all read this table; no other module compares minors.
The next release is one row. docs/versions.md is printed from it (`python -m harness.versions
doc`); the Makefile reads the pins (`python -m harness.versions kind|k8s|conformance`).

kind supports a node image only with the kind release it was made for: KIND_VERSION is the release
this project builds images for and runs clusters with.
"""

from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.errors import HarnessError

KIND_VERSION = "v0.33.0"


class Behaviour(enum.Enum):
    """A kubelet behaviour that changed in some minor, and where upstream changed it."""

    POD_GENERATION = "metadata.generation and status.observedGeneration on pods (KEP-5067)"
    IN_PLACE_RESIZE = (
        "in-place pod resize beta and on by default: the API server serves pods/resize (KEP-1287) "
        "and refuses it for a mirror pod"
    )
    KUBELET_REFUSES_API_REFERENCES = (
        "the kubelet, not the API server, refuses a static pod that refers to API objects (k/k #131837)"
    )
    KEEPS_STATUS_ACROSS_RESTART = (
        "container status (Ready, Started) kept across a kubelet restart (KEP-4781: "
        "ChangeContainerStatusOnKubeletRestart off by default)"
    )
    ENV_FILES = "env vars from a file written by an init container (KEP-5307 EnvFiles, beta, on by default)"
    FAILS_ON_CGROUP_V1 = "refuses to start on a cgroup v1 host unless failCgroupV1: false (KEP-5573)"
    REBUILDS_INIT_STATUS = "a removed, completed init container still counts as completed (k/k PR #131317)"
    PODS_API = "the kubelet's Pods API lists and watches static pods (PodsAPI, beta)"
    USER_NAMESPACES_LOCKED_ON = (
        "user namespaces GA: the feature gate UserNamespacesSupport is locked on (KEP-127)"
    )
    RESTART_ALL_CONTAINERS = (
        "a container's restart rule may restart all of its pod's containers "
        "(RestartAllContainersOnContainerExits, beta, on by default)"
    )
    STATIC_POD_PRIORITY_WARNINGS = (
        "the kubelet warns of priority/priorityClassName in a static pod (k/k PR #136705, #133535)"
    )


@dataclass(frozen=True)
class Minor:
    """One supported minor: which patch to run, how it builds, what kind runs it, what changed."""

    minor: int
    newest: str  # the newest release that builds from the Go module proxy (a pre-release: the next minor)
    # "local": the local Go builds it; "release": upstream's .go-version (a newer Go from the module
    # proxy through GOTOOLCHAIN, or the older one users ran, for upgrade checks from old kubelets)
    go: Literal["local", "release"]
    changes: tuple[Behaviour, ...] = ()

    @property
    def kubeadm_api(self) -> str:
        """The kubeadm config API kind writes (pkg/cluster/internal/kubeadm/config.go, from v0.32.0)."""
        return "v1beta4" if self.minor >= FIRST_MINOR_WITH_KUBEADM_V1BETA4 else "v1beta3"

    @property
    def prerelease(self) -> bool:
        return "-" in self.newest

    @property
    def kind_image(self) -> str | None:
        """The kindest/node image KIND_VERSION publishes for this minor (any patch of it)."""
        return next((image for v, image in KIND_IMAGES.items() if v.startswith(f"1.{self.minor}.")), None)


FIRST_MINOR_WITH_KUBEADM_V1BETA4 = 36
# The newest patch of each minor that builds from the Go module proxy, checked in December 2026 (its
# version list lags: v1.35.8 and v1.36.4 are served though `go list -m -versions` ends at v1.35.4 and
# v1.36.3; and it refuses some staging modules of newer 1.31 and 1.32 patches, e.g. all of v0.31.14).
# kind v0.33.0's images are from its release notes, "Images pre-built for this release"; its default,
# v1.37.0, is also pinned in its source (pkg/apis/config/defaults/image.go), which choose.py checks.
MINORS: tuple[Minor, ...] = (
    Minor(30, "1.30.14", "release"),
    Minor(31, "1.31.0", "release"),
    Minor(32, "1.32.2", "release"),
    Minor(33, "1.33.13", "local", (Behaviour.POD_GENERATION, Behaviour.IN_PLACE_RESIZE)),
    Minor(34, "1.34.11", "local", (Behaviour.KUBELET_REFUSES_API_REFERENCES,)),
    Minor(
        35,
        "1.35.8",
        "local",
        (Behaviour.KEEPS_STATUS_ACROSS_RESTART, Behaviour.ENV_FILES, Behaviour.FAILS_ON_CGROUP_V1),
    ),
    Minor(
        36,
        "1.36.4",
        "local",
        (
            Behaviour.REBUILDS_INIT_STATUS,
            Behaviour.USER_NAMESPACES_LOCKED_ON,
            Behaviour.RESTART_ALL_CONTAINERS,
        ),
    ),
    Minor(37, "1.37.2", "local", (Behaviour.PODS_API, Behaviour.STATIC_POD_PRIORITY_WARNINGS)),
    Minor(38, "1.38.0-beta.0", "release"),
)
# The kindest/node images KIND_VERSION publishes, pinned by digest ("You _must_ use the @sha256 digest
# to guarantee an image built for this release"). kind supports a node image only with its own release.
KIND_IMAGES: dict[str, str] = {
    "1.37.0": "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
    "1.36.4": "kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed",
    "1.35.8": "kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0",
    "1.34.11": "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d",  # noqa: E501
}
_BY_MINOR = {m.minor: m for m in MINORS}
# The newest stable patch the proxy serves: the default for `make e2e` and the upgrade check's TO.
DEFAULT_K8S_VERSION = max((m for m in MINORS if not m.prerelease), key=lambda m: m.minor).newest
# `make conformance` with no K8S_VERSIONS: the newest patch of each minor upstream supports, and the
# newest pre-release.
FIRST_SUPPORTED_UPSTREAM = 35

_VERSION = re.compile(r"^v?(1)\.(\d+)\.(\d+)(?:-((?:alpha|beta|rc)\.\d+))?$")


def _supported_line() -> str:
    stable = [m for m in MINORS if not m.prerelease]
    pre = [m.newest for m in MINORS if m.prerelease]
    line = f"1.{stable[0].minor}.x to 1.{stable[-1].minor}.x"
    return line + (f", and the pre-release{'s' if len(pre) > 1 else ''} {', '.join(pre)}" if pre else "")


@dataclass(frozen=True, order=True)
class KubeVersion:
    major: int
    minor: int
    patch: int
    # "beta.0" for v1.38.0-beta.0; "~" sorts after every pre-release, so a release sorts after its own
    pre: str = "~"

    @classmethod
    def parse(cls, text: str) -> KubeVersion:
        match = _VERSION.match(text.strip())
        if not match:
            raise HarnessError(
                f"K8S_VERSION={text!r} is not a Kubernetes release such as {DEFAULT_K8S_VERSION} "
                f"(major.minor.patch, or a pre-release such as 1.38.0-beta.0); supported: {_supported_line()}"
            )
        major, minor, patch, pre = match.groups()
        version = cls(int(major), int(minor), int(patch), pre or "~")
        row = _BY_MINOR.get(version.minor)
        if row is None:
            raise HarnessError(
                f"K8S_VERSION={text} is not supported with kind {KIND_VERSION}: use {_supported_line()}"
            )
        if row.prerelease and not version.prerelease:
            raise HarnessError(
                f"Kubernetes 1.{row.minor} has no release yet, only pre-releases: use {row.newest}"
            )
        return version

    @property
    def prerelease(self) -> bool:
        return self.pre != "~"

    @property
    def tag(self) -> str:
        """The git tag form, v1.34.4 or v1.38.0-beta.0."""
        return f"v{self}"

    @property
    def staging_tag(self) -> str:
        """The tag of the staging modules (k8s.io/api, ...) of this release, v0.34.4."""
        return f"v0.{self.minor}.{self.patch}" + (f"-{self.pre}" if self.prerelease else "")

    @property
    def row(self) -> Minor:
        return _BY_MINOR[self.minor]

    def has(self, behaviour: Behaviour) -> bool:
        """Whether a kubelet of this version has `behaviour` (it came in this minor or an earlier one)."""
        return any(behaviour in m.changes for m in MINORS if m.minor <= self.minor)

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}-{self.pre}" if self.prerelease else base


def newest_patch(minor: int) -> KubeVersion:
    """The newest release of `minor` that the module proxy serves (the upgrade planner's hops)."""
    if minor not in _BY_MINOR:
        raise HarnessError(
            f"Kubernetes 1.{minor} is not supported with kind {KIND_VERSION}: {_supported_line()}"
        )
    return KubeVersion.parse(_BY_MINOR[minor].newest)


def conformance_defaults() -> list[str]:
    """The versions `make conformance` runs when K8S_VERSIONS is not given."""
    return [m.newest for m in MINORS if m.minor >= FIRST_SUPPORTED_UPSTREAM]


def since(behaviour: Behaviour) -> str:
    """The first minor with `behaviour`, as 1.35."""
    return next(f"1.{m.minor}" for m in MINORS if behaviour in m.changes)


def table() -> str:
    """docs/versions.md's table, in markdown."""
    lines = [
        "| minor | runs | Go toolchain | kubeadm config | cgroup v1 host | kind image "
        f"({KIND_VERSION}) | kubelet behaviour new in it |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in MINORS:
        go = "local Go" if m.go == "local" else "upstream's .go-version (GOTOOLCHAIN)"
        cgroup = (
            "`failCgroupV1: false`"
            if KubeVersion.parse(m.newest).has(Behaviour.FAILS_ON_CGROUP_V1)
            else "as is"
        )
        image = f"`{m.kind_image}`" if m.kind_image else "none: the offline build"
        changes = "; ".join(b.value for b in m.changes) or "none the tests branch on"
        lines.append(
            f"| 1.{m.minor} | {m.newest} | {go} | {m.kubeadm_api} | {cgroup} | {image} | {changes} |"
        )
    return "\n".join(lines)


DOC = Path(__file__).parents[1] / "docs/versions.md"
_TABLE_MARKS = ("<!-- table: python -m harness.versions doc -->\n", "\n<!-- end of table -->")


def write_doc() -> None:
    """Replace the table in docs/versions.md with table()."""
    text = DOC.read_text()
    start, end = text.index(_TABLE_MARKS[0]) + len(_TABLE_MARKS[0]), text.index(_TABLE_MARKS[1])
    DOC.write_text(text[:start] + table() + text[end:])


if __name__ == "__main__":
    # `python -m harness.versions kind|k8s|conformance`: a pin for the Makefile; `doc`: docs/versions.md.
    what = sys.argv[1]
    if what == "doc":
        write_doc()
    else:
        pins = {
            "kind": KIND_VERSION,
            "k8s": DEFAULT_K8S_VERSION,
            "conformance": " ".join(conformance_defaults()),
        }
        print(pins[what])
