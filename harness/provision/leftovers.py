"""What earlier runs left behind (a SIGKILL skips every clean-up), found and removed on request.

Each cluster the harness creates is recorded (cluster name, the creating process) in the
cache directory before `kind create` runs, and forgotten once it is deleted or kept on
purpose. A record whose process is gone while kind still has the cluster is a leftover.
Node-image build containers carry the builder's label. `make clean` removes both:

    python -m harness.provision.leftovers [--remove]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import docker
from docker.models.containers import Container

from harness import cli
from harness.cluster.kind import Kind
from harness.dockerclient import docker_client
from harness.nodeimage.assemble import LABEL_BUILDER_PID, LABEL_INPUTS
from harness.paths import DEFAULT_KIND_BIN, cache_dir


def records_dir() -> Path:
    return cache_dir() / "clusters"


def record(name: str) -> None:
    records_dir().mkdir(parents=True, exist_ok=True)
    (records_dir() / f"{name}.json").write_text(json.dumps({"cluster": name, "pid": os.getpid()}))


def forget(name: str) -> None:
    (records_dir() / f"{name}.json").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:  # no pid recorded (os.kill would signal our own process group)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def left_clusters(kind: Kind) -> list[str]:
    """Clusters recorded by runs that are gone; their records of clusters kind no longer has are
    dropped. A live run's records are left alone: it records a cluster before kind lists it (and
    parallel workers of one run look at each other's records as they start)."""
    if not records_dir().is_dir():
        return []
    existing, left = set(kind.clusters()), []
    for path in sorted(records_dir().glob("*.json")):
        entry = json.loads(path.read_text())
        if _alive(entry["pid"]):
            continue
        if entry["cluster"] not in existing:
            path.unlink(missing_ok=True)
        else:
            left.append(entry["cluster"])
    return left


def build_containers(client: docker.DockerClient) -> list[Container]:
    """Node-image build containers whose build process is gone (a running build's are left alone)."""
    found = client.containers.list(all=True, filters={"label": f"{LABEL_INPUTS}=build"})
    return [c for c in found if not _alive(int(c.labels.get(LABEL_BUILDER_PID) or 0))]


def warn(kind: Kind, client: docker.DockerClient) -> None:
    """One line for each thing an earlier run left behind, saying how to remove it."""
    for name in left_clusters(kind):
        print(
            f"[harness] cluster {name} was left by a run that was killed: `make clean` removes it",
            file=sys.stderr,
        )
    for name in build_containers(client):
        print(
            f"[harness] build container {name} was left by a node-image build: `make clean` removes it",
            file=sys.stderr,
        )


def remove(kind: Kind, client: docker.DockerClient) -> list[str]:
    removed = []
    for name in left_clusters(kind):
        kind.handle(name, records_dir() / f"{name}.kubeconfig", None).delete()
        forget(name)
        removed.append(f"cluster {name}")
    for container in build_containers(client):
        container.remove(force=True)
        removed.append(f"build container {container.name}")
    return removed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.provision.leftovers")
    parser.add_argument("--remove", action="store_true", help="remove what earlier runs left behind")
    parser.add_argument("--kind-bin", type=Path, default=DEFAULT_KIND_BIN)
    args = parser.parse_args(argv)

    def act() -> None:
        kind, client = Kind(args.kind_bin), docker_client()
        if not args.remove:
            warn(kind, client)
        for what in remove(kind, client) if args.remove else []:
            print(f"removed {what}")

    return cli.run(act)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
