"""The one place a Docker client is made, so that every layer fails the same clear way."""

from __future__ import annotations

import os
import shutil

import docker
from docker.errors import DockerException

from harness.errors import HarnessError

DEFAULT_SOCKET = "/var/run/docker.sock"


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
        raise HarnessError(why_no_docker(str(exc), os.environ.get("DOCKER_HOST") or None)) from None
    return client


def why_no_docker(error: str, docker_host: str | None) -> str:
    """One line on why no Docker answered (docker-py's `error`), and what to do about it."""
    socket = docker_host.removeprefix("unix://") if docker_host else DEFAULT_SOCKET
    if docker_host and not docker_host.startswith("unix://"):
        return (
            f"Docker at DOCKER_HOST={docker_host} does not answer ({_first(error)}): start it, "
            "or unset DOCKER_HOST to use this machine's Docker"
        )
    if "PermissionError" in error or "Permission denied" in error:
        return (
            f"no permission on the Docker socket {socket}: run as root, or add this user to the docker "
            "group (usermod -aG docker $USER, then log in again)"
        )
    if not os.path.exists(socket):
        if docker_host:
            return (
                f"no Docker socket at DOCKER_HOST={docker_host}: start that Docker, or unset DOCKER_HOST "
                "to use this machine's"
            )
        if not (shutil.which("dockerd") or shutil.which("docker")):
            return (
                "Docker is not installed: run `make host-setup` as root (it installs Debian's docker.io), "
                "or install Docker yourself"
            )
        return (
            f"Docker is installed but its daemon is not running (no {socket}): start it "
            "(systemctl start docker, or `make host-setup` if host-setup installed it), then run again"
        )
    if "ConnectionRefused" in error or "Connection refused" in error:
        return (
            f"nothing listens on the Docker socket {socket} (connection refused): the daemon has stopped; "
            "start it (systemctl start docker), then run again"
        )
    return (
        f"Docker does not answer on {socket} ({_first(error)}): see its state (systemctl status docker, "
        "or dockerd's log), then run again"
    )


def _first(error: str) -> str:
    return error.splitlines()[0][:160] if error else "no answer"
