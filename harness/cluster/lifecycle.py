"""Create, reuse and delete kind clusters (through pytest-kind's KindCluster).

Nothing is left behind: a cluster this module created is deleted when the `kind_cluster`
context ends, whether the run passed, failed or was interrupted (Ctrl-C or SIGTERM
reach here as KeyboardInterrupt), unless the user asked to keep it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import yaml
from kubernetes import client as k8s
from pytest_kind import KindCluster

from harness.cluster import cni, kindconfig
from harness.cluster.cluster import Cluster
from harness.cluster.hostfacts import HostFacts
from harness.errors import HarnessError
from harness.nodeimage.choose import built_offline, choose_node_image
from harness.settings import Settings
from harness.waiting import watch_until

# The docker network kind puts every cluster's nodes on.
KIND_NETWORK = "kind"


def log(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr, flush=True)


def existing_clusters(kind_bin: Path) -> list[str]:
    proc = subprocess.run([str(kind_bin), "get", "clusters"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HarnessError(f"`kind get clusters` failed: {proc.stderr.strip()}")
    return proc.stdout.split()


def _kind(settings: Settings, name: str, work_dir: Path, image: str | None) -> KindCluster:
    if not settings.kind_bin.exists():
        raise HarnessError(f"kind is not at {settings.kind_bin}: run `make host-setup` or pass --kind-bin")
    work_dir.mkdir(parents=True, exist_ok=True)
    return KindCluster(name, work_dir / "kubeconfig", image=image, kind_path=settings.kind_bin)


@contextmanager
def kind_cluster(
    settings: Settings,
    node_image: str | None,
    client: docker.DockerClient,
    *,
    offline_image: bool,
    failed: Callable[[], bool],
) -> Iterator[Cluster]:
    """Yield a ready cluster; delete it afterwards unless kept or reused.

    `failed()` is asked at the end: when the session had failures, kind's logs are
    exported into the artifacts directory before the cluster goes.
    """
    work_dir = settings.artifacts_dir / "cluster"
    if settings.reuse_cluster:
        if settings.reuse_cluster not in existing_clusters(settings.kind_bin):
            raise HarnessError(
                f"--reuse-cluster {settings.reuse_cluster}: no such kind cluster (`kind get clusters`)"
            )
        kind = _kind(settings, settings.reuse_cluster, work_dir, None)
        subprocess.run(
            [
                str(settings.kind_bin),
                "export",
                "kubeconfig",
                "--name",
                settings.reuse_cluster,
                "--kubeconfig",
                str(kind.kubeconfig_path),
            ],
            check=True,
            capture_output=True,
        )
        cluster = Cluster(settings.reuse_cluster, kind, client, offline_image)
        _wait_ready(cluster, len(cluster.nodes), settings)
        yield cluster
        return

    if settings.cluster_name in existing_clusters(settings.kind_bin):
        raise HarnessError(
            f"a kind cluster named {settings.cluster_name} exists already: use it with --reuse-cluster "
            f"{settings.cluster_name}, or delete it (kind delete cluster --name {settings.cluster_name})"
        )
    config = kindconfig.render(
        kindconfig.load(settings.kind_config),
        version=settings.k8s_version,
        host=HostFacts.read(),
        offline_image=offline_image,
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    config_file = work_dir / "kind-config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    kind = _kind(settings, settings.cluster_name, work_dir, node_image)
    cluster = Cluster(settings.cluster_name, kind, client, offline_image)
    network_existed = bool(client.networks.list(names=[KIND_NETWORK]))
    try:
        log(f"creating {settings.cluster_name} from {settings.kind_config.name} with {node_image}")
        try:
            kind.create(config_file)
        except subprocess.CalledProcessError as exc:
            raise HarnessError(
                f"kind create cluster failed (exit {exc.returncode}); see its output above"
            ) from None
        if offline_image:
            _configure_network(cluster, settings)
        _wait_ready(cluster, kindconfig.node_count(config), settings)
        yield cluster
    finally:
        if failed():
            export_logs(settings, settings.artifacts_dir / "kind-logs")
        if settings.keep_cluster:
            log(f"keeping {settings.cluster_name} (KUBECONFIG={kind.kubeconfig_path})")
        else:
            log(f"deleting {settings.cluster_name}")
            kind.delete()
            if not network_existed:
                _remove_kind_network(client)


def _remove_kind_network(client: docker.DockerClient) -> None:
    """kind keeps its docker network after the last cluster goes; this run made it, so it goes too."""
    for network in client.networks.list(names=[KIND_NETWORK]):
        network.reload()
        if not network.containers:  # another cluster may have started on it meanwhile
            network.remove()


@contextmanager
def provisioned_cluster(
    settings: Settings, client: docker.DockerClient, *, failed: Callable[[], bool]
) -> Iterator[Cluster]:
    """kind_cluster with the node image these settings choose (built first when offline)."""
    image = (
        None
        if settings.reuse_cluster
        else choose_node_image(settings.node_image, settings.k8s_version, client)
    )
    offline = image is not None and built_offline(client, image)
    with kind_cluster(settings, image, client, offline_image=offline, failed=failed) as cluster:
        yield cluster


def export_logs(settings: Settings, dest: Path) -> None:
    name = settings.reuse_cluster or settings.cluster_name
    subprocess.run(
        [str(settings.kind_bin), "export", "logs", str(dest), "--name", name], capture_output=True, text=True
    )


def _configure_network(cluster: Cluster, settings: Settings) -> None:
    """The offline image has no CNI daemon: give each node its podCIDR's config and routes."""
    networks: list[cni.NodeNetwork] = []
    for node in cluster.nodes:
        obj = watch_until(
            cluster.core.list_node,
            lambda n: bool(n and n.spec.pod_cidr),
            timeout=settings.timeout(120),
            expected=f"node {node.name} registered with a podCIDR",
            field_selector=f"metadata.name={node.name}",
        )
        ip = next(a.address for a in obj.status.addresses if a.type == "InternalIP")
        networks.append(cni.NodeNetwork(node.name, ip, obj.spec.pod_cidr))
    cni.configure({n.name: n for n in cluster.nodes}, networks)


def _is_ready(node: k8s.V1Node | None) -> bool:
    return bool(node) and any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def _wait_ready(cluster: Cluster, count: int, settings: Settings) -> None:
    for node in cluster.nodes:
        watch_until(
            cluster.core.list_node,
            _is_ready,
            timeout=settings.timeout(180),
            expected=f"node {node.name} Ready",
            field_selector=f"metadata.name={node.name}",
        )
    if len(cluster.nodes) != count:
        raise HarnessError(
            f"expected {count} nodes in {cluster.name}, found {[n.name for n in cluster.nodes]}"
        )
