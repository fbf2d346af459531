"""The one place a Docker client is made, so that every layer fails the same clear way."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from harness.errors import HarnessError


def image_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        text = str(exc)
        if "PermissionError" in text or "Permission denied" in text:
            raise HarnessError(
                "no permission on the Docker socket: run as root or add this user to the docker group"
            ) from None
        raise HarnessError(
            f"Docker does not answer ({text.splitlines()[0][:160]}): run `make host-setup` or start dockerd"
        ) from None
    return client
