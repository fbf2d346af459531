"""No Docker, a stopped one, a socket this user may not use: one line each, from every tool."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness import dockerclient

ROOT = Path(__file__).parents[2]
MISSING = (
    "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, 'No such file'))"
)
DENIED = "Error while fetching server API version: ('Connection aborted.', PermissionError(13, 'denied'))"


@pytest.fixture
def no_default_socket(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(dockerclient, "DEFAULT_SOCKET", str(tmp_path / "docker.sock"))
    return tmp_path


def test_docker_not_installed(no_default_socket: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(no_default_socket))
    assert dockerclient.why_no_docker(MISSING, None) == (
        "Docker is not installed: run `make host-setup` as root (it installs Debian's docker.io), "
        "or install Docker yourself"
    )


def test_docker_installed_but_not_running(no_default_socket: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (no_default_socket / "dockerd").write_text("#!/bin/sh\n")
    (no_default_socket / "dockerd").chmod(0o755)
    monkeypatch.setenv("PATH", str(no_default_socket))
    assert dockerclient.why_no_docker(MISSING, None).startswith(
        f"Docker is installed but its daemon is not running (no {no_default_socket / 'docker.sock'}): "
        "start it (systemctl start docker"
    )


def test_no_permission_on_the_socket() -> None:
    assert dockerclient.why_no_docker(DENIED, None) == (
        "no permission on the Docker socket /var/run/docker.sock: run as root, or add this user to the "
        "docker group (usermod -aG docker $USER, then log in again)"
    )


def _tool(docker_host: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.nodeimage", "choose", "--k8s-version=1.34.4"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"DOCKER_HOST": docker_host, "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        timeout=60,
    )


def test_a_tool_with_no_docker_at_docker_host_says_so_in_one_line(tmp_path: Path) -> None:
    done = _tool(f"unix://{tmp_path}/docker.sock")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"error: no Docker socket at DOCKER_HOST=unix://{tmp_path}/docker.sock: start that Docker, "
        "or unset DOCKER_HOST to use this machine's\n"
    )


def test_a_tool_facing_a_stopped_daemons_socket_says_so_in_one_line(tmp_path: Path) -> None:
    dead = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(dead))  # the file stays; nothing listens once it is closed
    done = _tool(f"unix://{dead}")
    assert done.returncode == 1
    assert done.stderr == (
        f"error: nothing listens on the Docker socket {dead} (connection refused): the daemon has stopped; "
        "start it (systemctl start docker), then run again\n"
    )


def test_a_remote_docker_host_that_does_not_answer() -> None:
    done = _tool("tcp://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stderr.startswith("error: Docker at DOCKER_HOST=tcp://127.0.0.1:9 does not answer (")
    assert done.stderr.endswith("start it, or unset DOCKER_HOST to use this machine's Docker\n")
    assert done.stderr.count("\n") == 1
