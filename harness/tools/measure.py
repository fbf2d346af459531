"""`make measure`: how long the harness's own steps take on this machine, as figures.

Provisions a cluster from the given kind config (the same path as the pytest plugin), places
one static pod, and prints: cluster creation, the test image loaded, first static pod running
on the node (crictl), its mirror pod Running in the API, file removal to containers gone and
mirror gone, and cluster deletion. Each figure is wall-clock time seen from the harness; the
kubelet's own timestamps (config.seen, crictl createdAt) are printed beside them for the pod.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import cli
from harness.cluster import kindconfig
from harness.dockerclient import docker_client
from harness.interrupts import handle_interrupts, on_interrupt
from harness.paths import DEFAULT_KIND_BIN
from harness.provision.provisioner import Provisioner, ProvisionRequest
from harness.staticpods.pods import StaticPods
from harness.versions import DEFAULT_K8S_VERSION, KubeVersion


def record(name: str, since: float) -> None:
    print(f"  {name:<40} {time.monotonic() - since:7.1f} s", flush=True)


@contextmanager
def timed(name: str) -> Iterator[None]:
    start = time.monotonic()
    yield
    record(name, start)


def measure(args: argparse.Namespace) -> None:
    kind_config = kindconfig.resolve(args.kind_config)
    request = ProvisionRequest(
        k8s_version=KubeVersion.parse(args.k8s_version),
        node_image=args.node_image,
        kind_bin=Path(args.kind_bin),
        name="measure",
        artifacts_dir=Path("artifacts/measure").resolve(),
    )
    provisioner = Provisioner(request, docker_client())
    on_interrupt(provisioner.abort)
    print(f"figures for {args.node_image}, Kubernetes {args.k8s_version}, {kind_config.name}:", flush=True)
    start = time.monotonic()
    try:
        cluster = provisioner.ready_cluster(kind_config)
        record("cluster created, nodes Ready, test image loaded", start)
        pods = StaticPods(cluster, provisioner.test_image)
        pod = pods.place(pods.manifest())
        with timed("manifest placed -> container running"):
            container = pod.wait_running()
        with timed("... -> mirror pod Running and Ready"):
            mirror = pod.wait_for_running_mirror()
        seen = mirror.metadata.annotations.get("kubernetes.io/config.seen")
        print(f"  kubelet: config.seen {seen}; container createdAt {container.created_at}", flush=True)
        pod.remove_file()
        with timed("file removed -> containers gone"):
            pod.wait_containers_gone()
        with timed("... -> mirror pod gone"):
            pod.wait_for_mirror_gone()
    finally:
        deleting = time.monotonic()
        provisioner.close()
    record("cluster deleted", deleting)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.tools.measure")
    parser.add_argument("--k8s-version", default=DEFAULT_K8S_VERSION)
    parser.add_argument("--node-image", default="auto")
    parser.add_argument("--kind-config", default="single-node")
    parser.add_argument("--kind-bin", default=str(DEFAULT_KIND_BIN))
    args = parser.parse_args(argv)
    handle_interrupts()  # the cluster is deleted on SIGTERM as on Ctrl-C
    return cli.run(lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
