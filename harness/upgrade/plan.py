"""What an upgrade check will do, from its inputs: checked before anything is built or created.

`python -m harness.upgrade.plan --from 1.30.14 --to 1.31.0 [--kubelet-binary PATH]` prints the
plan or one line saying what is wrong (the Makefile runs it first); the pytest options of
tests/upgrade make the same plan.
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
from harness.versions import KubeVersion

EXPECTATIONS = ("no-disruption", "report")


@dataclass(frozen=True)
class UpgradePlan:
    from_version: KubeVersion
    to_version: KubeVersion
    kubelet_binary: KubeletBinary | None  # a user's build as TO's kubelet
    expect: str  # no-disruption (a disrupted static pod fails the check) or report

    @property
    def to_reported(self) -> str:
        """The version the new kubelet reports (a development build's carries a suffix)."""
        return self.kubelet_binary.reported if self.kubelet_binary else f"v{self.to_version}"

    def __str__(self) -> str:
        to = f"{self.to_reported} ({self.kubelet_binary.path})" if self.kubelet_binary else self.to_reported
        kind = upgrade_kind(str(self.from_version), str(self.to_version))
        return f"{kind} upgrade v{self.from_version} -> {to}, expect {self.expect}"


def make_plan(
    from_version: str | None, to_version: str, kubelet_binary: str | None = None, expect: str | None = None
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
    default = "no-disruption" if upgrade_kind(str(old), str(new)) == "patch" else "report"
    return UpgradePlan(old, new, built, expect or default)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.upgrade.plan")
    parser.add_argument("--from", dest="from_version")
    parser.add_argument("--to", required=True)
    parser.add_argument("--kubelet-binary")
    parser.add_argument("--expect")
    args = parser.parse_args(argv)
    return cli.run(
        lambda: print(make_plan(args.from_version, args.to, args.kubelet_binary, args.expect or None))
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
