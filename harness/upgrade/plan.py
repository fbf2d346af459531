"""What an upgrade check will do, from its inputs: checked before anything is built or created.

`python -m harness.upgrade.plan --from 1.30.14 --to 1.31.0 [--kubelet-binary PATH] [--manifests DIR]
[--builtin yes|no] [--scope node|cluster]` prints the plan or one line saying what is wrong (the
Makefile runs it first; `--versions` prints the versions whose kubelets and node images the check
needs besides TO's); the pytest options of tests/upgrade make the same plan.

kubeadm upgrades one minor at a time ("Skipping MINOR versions when upgrading is unsupported"): FROM
and TO more than one minor apart go through the newest served patch of each minor in between
(versions.newest_patch), each a hop of its own.
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import cli
from harness.errors import HarnessError
from harness.upgrade.binary import KubeletBinary, check_order, validate_kubelet_binary
from harness.upgrade.diff import upgrade_kind
from harness.upgrade.manifests import read_manifests
from harness.versions import KubeVersion, newest_patch

EXPECTATIONS = ("no-disruption", "report")
# node: a worker's kubelet upgraded under a control plane already at TO (the default); cluster: the
# whole cluster starts at FROM and is upgraded the kubeadm way, control-plane node first.
SCOPES = ("node", "cluster")
_YES, _NO = ("1", "yes", "true"), ("0", "no", "false")


@dataclass(frozen=True)
class UpgradePlan:
    from_version: KubeVersion
    to_version: KubeVersion
    kubelet_binary: KubeletBinary | None  # a user's build as TO's kubelet
    expect: str  # no-disruption (a disrupted static pod fails the check) or report
    hops: tuple[KubeVersion, ...]  # what the node is upgraded to, one minor at a time; TO last
    scope: str  # node or cluster (SCOPES)
    manifests: Path | None  # the user's static-pod manifests
    builtin: bool  # the eight built-in shapes too

    @property
    def needed_versions(self) -> tuple[KubeVersion, ...]:
        """The versions whose kubelet (and, for SCOPE=cluster, node image) the check needs besides TO's."""
        return (self.from_version, *self.hops[:-1])

    @property
    def to_reported(self) -> str:
        """The version the new kubelet reports (a development build's carries a suffix)."""
        return self.kubelet_binary.reported if self.kubelet_binary else f"v{self.to_version}"

    def __str__(self) -> str:
        to = f"{self.to_reported} ({self.kubelet_binary.path})" if self.kubelet_binary else self.to_reported
        kind = upgrade_kind(str(self.from_version), str(self.to_version))
        through = "".join(f" -> v{hop}" for hop in self.hops[:-1])
        pods = ["the built-in shapes"] if self.builtin else []
        pods += [f"the manifests of {self.manifests}"] if self.manifests else []
        return (
            f"{kind} upgrade v{self.from_version}{through} -> {to}, scope {self.scope}, "
            f"{' and '.join(pods)}, expect {self.expect}"
        )


def plan_hops(from_version: KubeVersion, to_version: KubeVersion) -> tuple[KubeVersion, ...]:
    """TO, after the newest served patch of each minor between FROM's and TO's."""
    between = range(from_version.minor + 1, to_version.minor)
    return (*(newest_patch(minor) for minor in between), to_version)


def parse_builtin(text: str | None) -> bool:
    """BUILTIN=1|yes|true (the default) or 0|no|false."""
    if text is None or text.lower() in _YES:
        return True
    if text.lower() in _NO:
        return False
    raise HarnessError(f"BUILTIN={text} is not one of yes|no (or 1|0): with the built-in shapes or not")


def make_plan(
    from_version: str | None,
    to_version: str,
    kubelet_binary: str | None = None,
    expect: str | None = None,
    *,
    scope: str | None = None,
    manifests: str | None = None,
    builtin: str | None = None,
) -> UpgradePlan:
    if not from_version:
        raise HarnessError("FROM is required: make upgrade-check FROM=1.30.14 TO=1.31.0 (--upgrade-from)")
    old, new = KubeVersion.parse(from_version), KubeVersion.parse(to_version)
    built = validate_kubelet_binary(Path(kubelet_binary), platform.machine()) if kubelet_binary else None
    if built and built.version.minor != new.minor:
        raise HarnessError(
            f"--kubelet-binary {kubelet_binary} is a {built.reported} kubelet but TO={new}: give "
            f"TO={built.version} (its minor), so that the API server is not older than the kubelet"
        )
    if not (built and old == new):  # a build of the release FROM runs, patched, is an upgrade too
        check_order(old, new)
    if expect is not None and expect not in EXPECTATIONS:
        raise HarnessError(f"EXPECT={expect} is not one of {', '.join(EXPECTATIONS)}")
    scope = scope or "node"
    if scope not in SCOPES:
        raise HarnessError(f"SCOPE={scope} is not one of {', '.join(SCOPES)}")
    if scope == "cluster" and built:
        raise HarnessError(
            "KUBELET_BINARY works with SCOPE=node only: SCOPE=cluster upgrades with TO's released kubeadm "
            "and kubelet"
        )
    directory = Path(manifests) if manifests else None
    if directory is not None:
        _, problems = read_manifests(directory)
        if problems:
            raise HarnessError(
                f"MANIFESTS={directory}: {len(problems)} bad file(s):\n  " + "\n  ".join(problems)
            )
    with_builtin = parse_builtin(builtin)
    if not with_builtin and directory is None:
        raise HarnessError("BUILTIN=no needs MANIFESTS=DIR: without either there is no static pod to watch")
    default = "no-disruption" if upgrade_kind(str(old), str(new)) == "patch" else "report"
    hops = (new,) if old == new else plan_hops(old, new)
    return UpgradePlan(old, new, built, expect or default, hops, scope, directory, with_builtin)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.upgrade.plan")
    parser.add_argument("--from", dest="from_version")
    parser.add_argument("--to", required=True)
    parser.add_argument("--kubelet-binary")
    parser.add_argument("--expect")
    parser.add_argument("--scope")
    parser.add_argument("--manifests")
    parser.add_argument("--builtin")
    parser.add_argument("--versions", action="store_true", help="print the versions needed besides TO's")
    args = parser.parse_args(argv)

    def show() -> None:
        plan = make_plan(
            args.from_version,
            args.to,
            args.kubelet_binary,
            args.expect or None,
            scope=args.scope or None,
            manifests=args.manifests or None,
            builtin=args.builtin or None,
        )
        print(" ".join(map(str, plan.needed_versions)) if args.versions else plan)

    return cli.run(show)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
