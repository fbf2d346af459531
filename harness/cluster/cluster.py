"""A running kind cluster as tests see it: API clients and node handles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import docker
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from pytest_kind import KindCluster

from harness.errors import HarnessError
from harness.node import Node

KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"


@dataclass
class Cluster:
    name: str
    kind: KindCluster  # pytest-kind's handle: kind create/delete/load
    docker: docker.DockerClient
    offline_image: bool
    _nodes: dict[str, Node] = field(default_factory=dict, init=False)

    @cached_property
    def api(self) -> k8s.ApiClient:
        return k8s_config.new_client_from_config(config_file=str(self.kind.kubeconfig_path))

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
                self._nodes[container.name] = Node(container)
        return sorted(self._nodes.values(), key=lambda n: (n.role != "control-plane", n.name))

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

    def server_version(self) -> str:
        return k8s.VersionApi(self.api).get_code().git_version
