"""A running kind cluster as tests see it: API clients and node handles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import docker
from kubernetes import client as k8s
from pytest_kind import KindCluster

from harness.cluster.apiclient import new_api_client
from harness.errors import HarnessError
from harness.node import DockerTransport, Node
from harness.versions import KubeVersion

KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"
# kind labels every node container with its role.
KIND_ROLE_LABEL = "io.x-k8s.kind.role"


@dataclass
class Cluster:
    name: str
    kind: KindCluster  # pytest-kind's handle: create, delete, load docker-image
    docker: docker.DockerClient
    # The node image its nodes run.
    image: str | None
    # Whether creating it also created kind's docker network (then deleting it removes that too).
    made_network: bool = False
    # Set once the cluster is gone (deleted at the end or on an interrupt): clean-ups have nothing to do.
    deleted: bool = False
    _nodes: dict[str, Node] = field(default_factory=dict, init=False)

    @cached_property
    def api(self) -> k8s.ApiClient:
        return new_api_client(self.kubeconfig)

    @property
    def kubeconfig(self) -> Path:
        return Path(self.kind.kubeconfig_path)

    @cached_property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)

    @cached_property
    def apps(self) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self.api)

    @property
    def nodes(self) -> list[Node]:
        """The node containers of this cluster, control plane first."""
        if not self._nodes:
            containers = self.docker.containers.list(filters={"label": f"{KIND_CLUSTER_LABEL}={self.name}"})
            if not containers:
                raise HarnessError(f"kind cluster {self.name} has no running node containers")
            for container in containers:
                self._nodes[container.name] = Node(
                    DockerTransport(container), role=container.labels.get(KIND_ROLE_LABEL)
                )
        return sorted(self._nodes.values(), key=lambda n: (n.role != "control-plane", n.name))

    def node_image(self) -> str | None:
        """The image of the control-plane node's container (its first tag), as docker has it."""
        container = self.docker.containers.get(self.control_plane.name)
        return container.image.tags[0] if container.image.tags else container.image.id

    def node_image_labels(self) -> dict[str, str]:
        """The labels of the control-plane node container's image (by its id, whatever its tags say now)."""
        return self.docker.containers.get(self.control_plane.name).image.labels or {}

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    @property
    def control_plane(self) -> Node:
        return self.nodes[0]

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes if n.role == "worker"]

    def kubelet_configz(self, node_name: str) -> dict[str, Any]:
        """The kubelet's effective configuration, as it serves it at /configz."""
        raw = self.core.connect_get_node_proxy_with_path(node_name, "configz", _preload_content=False)
        return json.loads(raw.data)["kubeletconfig"]

    def kubelet_pods(self, node_name: str) -> list[dict[str, Any]]:
        """The pods the kubelet itself holds (its pod manager: GET /pods through the node proxy)."""
        raw = self.core.connect_get_node_proxy_with_path(node_name, "pods", _preload_content=False)
        return json.loads(raw.data)["items"]

    def server_version(self) -> str:
        """The API server's own version, e.g. v1.34.4 (GET /version)."""
        return k8s.VersionApi(self.api).get_code().git_version

    def kubelet_version(self, node_name: str) -> KubeVersion:
        """The version of the kubelet on `node_name`, as it reports it: what a test of kubelet behaviour
        branches on (on a skewed cluster the API server's differs)."""
        return KubeVersion.parse(self.core.read_node(node_name).status.node_info.kubelet_version)

    def kubelet_versions(self) -> dict[str, str]:
        """Each node's kubelet version, as the node reports it."""
        return {n.metadata.name: n.status.node_info.kubelet_version for n in self.core.list_node().items}
