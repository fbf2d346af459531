"""The node image of a run, chosen once: auto, offline, official, or a reference trusted as it is."""

from __future__ import annotations

from dataclasses import dataclass

import docker

from harness.dockerclient import image_exists
from harness.nodeimage.choose import built_offline, choose_node_image
from harness.versions import KubeVersion


@dataclass(frozen=True)
class NodeImage:
    reference: str
    # Made by harness.nodeimage: the kind config gets the offline patches (no kindnetd, ...).
    offline: bool


def resolve_node_image(setting: str, version: KubeVersion, client: docker.DockerClient) -> NodeImage:
    """`setting` is auto, offline, official (chosen, built if need be) or an image reference."""
    reference = choose_node_image(setting, version, client)
    return NodeImage(reference, image_exists(client, reference) and built_offline(client, reference))
