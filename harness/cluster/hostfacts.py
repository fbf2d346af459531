"""What this host needs a kind cluster to adapt to, read from the host itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CAP_SYS_RESOURCE = 24


@dataclass(frozen=True)
class HostFacts:
    # Without CAP_SYS_RESOURCE in the bounding set no process can lower oom_score_adj,
    # which containerd's CRI asks runc to do for every sandbox.
    can_lower_oom_score: bool
    # Kubernetes 1.35+ kubelets refuse cgroup v1 unless told otherwise.
    cgroup_v1: bool

    @classmethod
    def read(
        cls, proc_status: Path = Path("/proc/self/status"), cgroup_root: Path = Path("/sys/fs/cgroup")
    ) -> HostFacts:
        bounding = next(
            int(line.split()[1], 16)
            for line in proc_status.read_text().splitlines()
            if line.startswith("CapBnd:")
        )
        return cls(
            can_lower_oom_score=bool(bounding >> CAP_SYS_RESOURCE & 1),
            cgroup_v1=not (cgroup_root / "cgroup.controllers").exists(),
        )
