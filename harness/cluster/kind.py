"""The kind binary, for what pytest-kind's KindCluster does not offer.

pytest-kind is the cluster provider (create, delete, load docker-image go through its
KindCluster, each under a watchdog: pytest-kind gives kind no deadline); listing clusters and
exporting logs and kubeconfigs are kind commands it has no method for, so they are run here,
each bounded and failing with kind's own words.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from pytest_kind import KindCluster

from harness.cluster.watchdog import watchdog
from harness.errors import HarnessError
from harness.waiting import scaled

# Seconds for a kind command that only reads or copies (not create/delete), scaled.
COMMAND_TIMEOUT = 120
# Seconds (scaled) for the steps pytest-kind runs: well beyond their time on a slow machine, so
# that only a kind, or a docker under it, that hangs reaches them.
CREATE_TIMEOUT = 600
DELETE_TIMEOUT = 300
LOAD_TIMEOUT = 300
# pytest-kind's KindCluster makes this directory (in the working directory) when constructed.
_PYTEST_KIND_DIR = ".pytest-kind"


class Kind:
    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def check(self) -> None:
        """One line saying what to do when the kind binary is missing."""
        if not (self.binary.is_file() and os.access(self.binary, os.X_OK)):
            raise HarnessError(
                f"no kind binary at {self.binary}: pass --kind-bin PATH, put kind on PATH, "
                "or run `make host-setup` in a checkout of static-pod-harness"
            )

    def clusters(self) -> list[str]:
        return self._run("get", "clusters").split()

    def export_kubeconfig(self, name: str, path: Path) -> None:
        path.touch(0o600)  # an admin credential: never readable by others, not even for a moment
        self._run("export", "kubeconfig", "--name", name, "--kubeconfig", str(path))
        path.chmod(0o600)

    def export_logs(self, name: str, directory: Path) -> None:
        self._run("export", "logs", str(directory), "--name", name)

    def handle(self, name: str, kubeconfig: Path, image: str | None) -> KindCluster:
        """pytest-kind's KindCluster for `name`, made in the kubeconfig's directory (private to the
        run), so that no `.pytest-kind/` appears in the working tree, where parallel workers would
        race to make and remove it; the directories it made there are removed again."""
        self.check()
        parent = kubeconfig.parent / _PYTEST_KIND_DIR
        made = [d for d in (parent, parent / name) if not d.exists()]
        with contextlib.chdir(kubeconfig.parent):
            cluster = WatchedKindCluster(name, kubeconfig, image=image, kind_path=self.binary)
        for directory in reversed(made):
            directory.rmdir()
        cluster.path = kubeconfig.parent
        return cluster

    def _run(self, *args: str) -> str:
        self.check()
        try:
            proc = subprocess.run(
                [str(self.binary), *args], capture_output=True, text=True, timeout=scaled(COMMAND_TIMEOUT)
            )
        except subprocess.TimeoutExpired:
            raise HarnessError(
                f"`kind {' '.join(args)}` did not finish in {scaled(COMMAND_TIMEOUT):g}s"
            ) from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise HarnessError(f"`kind {' '.join(args)}` failed: {last}")
        return proc.stdout


class WatchedKindCluster(KindCluster):
    """pytest-kind's KindCluster, each of whose kind steps runs under a watchdog (watchdog.py)."""

    def create(self, config_file: str | Path | None = None) -> None:
        with watchdog(self.kind_path, f"kind create cluster --name {self.name}", CREATE_TIMEOUT):
            super().create(config_file)

    def delete(self) -> None:
        with watchdog(self.kind_path, f"kind delete cluster --name {self.name}", DELETE_TIMEOUT):
            super().delete()

    def load_docker_image(self, docker_image: str) -> None:
        step = f"kind load docker-image --name {self.name} {docker_image}"
        with watchdog(self.kind_path, step, LOAD_TIMEOUT):
            super().load_docker_image(docker_image)
