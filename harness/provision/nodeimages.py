"""The node image of a run, chosen once: auto, offline, official, or a reference trusted as it is."""

from __future__ import annotations

from dataclasses import dataclass

import docker

from harness.dockerclient import image_exists
from harness.errors import HarnessError
from harness.nodeimage.choose import NODE_IMAGE_CHOICES, built_offline, choose_node_image, registry_reachable
from harness.versions import KubeVersion


@dataclass(frozen=True)
class NodeImage:
    reference: str
    # Made by harness.nodeimage: the kind config gets the offline patches (no kindnetd, ...).
    offline: bool


def resolve_node_image(setting: str, version: KubeVersion, client: docker.DockerClient) -> NodeImage:
    """`setting` is auto, offline, official (chosen, built if need be) or an image reference."""
    if setting in NODE_IMAGE_CHOICES:
        reference = choose_node_image(setting, version, client)
    else:
        reference = setting
        if not image_exists(client, reference) and not registry_reachable():
            raise HarnessError(
                f"node image {reference} is not on this machine and no registry answers: "
                "build one with `make node-image`, or use NODE_IMAGE=offline"
            )
    return NodeImage(reference, image_exists(client, reference) and built_offline(client, reference))
