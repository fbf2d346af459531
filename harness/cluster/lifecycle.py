"""Create, reuse and delete kind clusters: a cluster from a name, a node image and a kind config.

Clusters are made and deleted through pytest-kind's KindCluster. Creating one that fails
half-way deletes it at once; deleting holds Ctrl-C and SIGTERM until kind is done, so an
impatient second signal cannot leave a cluster behind.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import docker.models.networks
import yaml
from kubernetes import client as k8s

from harness.cluster import cni, kindconfig
from harness.cluster.cluster import Cluster
from harness.cluster.kind import Kind
from harness.errors import HarnessError
from harness.heartbeat import heartbeat
from harness.interrupts import signals_held
from harness.waiting import watch_until

# The docker network kind puts every cluster's nodes on.
KIND_NETWORK = "kind"
# Seconds (scaled): a node registers, and becomes Ready.
NODE_REGISTERED_TIMEOUT = 120
NODE_READY_TIMEOUT = 180


def log(message: str) -> None:
    print(f"[cluster] {message}", file=sys.stderr, flush=True)


def create_cluster(
    kind: Kind,
    name: str,
    image: str,
    config: dict[str, Any],
    config_file: Path,
    kubeconfig: Path,
    client: docker.DockerClient,
    *,
    offline_image: bool,
    owns_network: bool = True,
) -> Cluster:
    """A new cluster, its nodes Ready; on any failure (or interrupt) on the way it is deleted again.

    The kind config it is made from is written to `config_file`; its admin kubeconfig (mode 0600)
    to `kubeconfig`, which deleting the cluster removes. When kind's docker network does not exist
    yet, creating the cluster makes it, and deleting the cluster removes it again, unless
    `owns_network` is False: a parallel worker leaves that to its controller (parallel.py), since
    another worker may be creating a cluster on it at that moment."""
    refuse_taken(kind, name)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cluster = Cluster(
        name,
        kind.handle(name, kubeconfig, image),
        client,
        image,
        made_network=owns_network and not kind_network_exists(client),
    )
    try:
        try:
            with heartbeat(f"creating cluster {name} with {image}", log):
                cluster.kind.create(config_file)
        except subprocess.CalledProcessError as exc:
            raise HarnessError(
                f"kind create cluster {name} failed (exit {exc.returncode}); see its output above"
            ) from None
        cluster.kubeconfig.chmod(0o600)
        if offline_image:
            _route_pod_networks(cluster)
        _wait_ready(cluster, kindconfig.node_count(config))
    except BaseException as failure:
        try:
            delete_cluster(cluster)
        except Exception as cleanup:  # the failure that brought us here stays the one raised
            failure.add_note(f"deleting {name} afterwards failed too: {cleanup}")
        raise
    return cluster


def refuse_taken(kind: Kind, name: str) -> None:
    if name in kind.clusters():
        raise HarnessError(
            f"a kind cluster named {name} exists already: use it with --reuse-cluster {name}, "
            f"or delete it (kind delete cluster --name {name})"
        )


def reuse_cluster(kind: Kind, name: str, kubeconfig: Path, client: docker.DockerClient) -> Cluster:
    """An existing cluster the run uses and never deletes; its kubeconfig is exported to `kubeconfig`."""
    if name not in kind.clusters():
        raise HarnessError(f"--reuse-cluster {name}: no such kind cluster (`kind get clusters` lists them)")
    kind.export_kubeconfig(name, kubeconfig)
    cluster = Cluster(name, kind.handle(name, kubeconfig, None), client, None)
    cluster.image = cluster.node_image()
    _wait_ready(cluster, len(cluster.nodes))
    return cluster


def delete_cluster(cluster: Cluster) -> None:
    """Delete the cluster (and kind's network, when creating it made that); idempotent."""
    if cluster.deleted:
        return
    with signals_held(f"deleting cluster {cluster.name}"):
        log(f"deleting {cluster.name}")
        cluster.kind.delete()
        cluster.deleted = True
        if cluster.made_network:
            remove_kind_network(cluster.docker)
        cluster.kubeconfig.unlink(missing_ok=True)


def _kind_network(client: docker.DockerClient) -> docker.models.networks.Network | None:
    """kind's network; docker's name filter matches substrings, so the name is compared whole."""
    return next((n for n in client.networks.list(names=[KIND_NETWORK]) if n.name == KIND_NETWORK), None)


def kind_network_exists(client: docker.DockerClient) -> bool:
    return _kind_network(client) is not None


def remove_kind_network(client: docker.DockerClient) -> None:
    """kind keeps its docker network after the last cluster goes; the caller's run made it, so it goes
    too, unless a cluster runs on it."""
    network = _kind_network(client)
    if network is not None:
        network.reload()
        if not network.containers:  # another cluster may have started on it meanwhile
            network.remove()


def _route_pod_networks(cluster: Cluster) -> None:
    """The offline image has no CNI daemon: each node's pods get routes to the others' (cni.py)."""
    if len(cluster.nodes) < 2:
        return
    networks: list[cni.NodeNetwork] = []
    for node in cluster.nodes:
        obj = watch_until(
            cluster.core.list_node,
            lambda n: n is not None,
            timeout=NODE_REGISTERED_TIMEOUT,
            expected=f"node {node.name} registered",
            field_selector=f"metadata.name={node.name}",
        )
        ip = next(a.address for a in obj.status.addresses if a.type == "InternalIP")
        networks.append(cni.NodeNetwork(node.name, ip, cni.pod_cidr(node)))
    cni.route({n.name: n for n in cluster.nodes}, networks)


def node_ready(node: k8s.V1Node | None) -> bool:
    return bool(node) and any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def _wait_ready(cluster: Cluster, count: int) -> None:
    for node in cluster.nodes:
        watch_until(
            cluster.core.list_node,
            node_ready,
            timeout=NODE_READY_TIMEOUT,
            expected=f"node {node.name} Ready",
            field_selector=f"metadata.name={node.name}",
        )
    if len(cluster.nodes) != count:
        raise HarnessError(
            f"expected {count} nodes in {cluster.name}, found {[n.name for n in cluster.nodes]}"
        )
