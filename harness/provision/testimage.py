"""The suite's own container image, built from fixtures/images/testapp.

No registry is reachable where the suite runs, so the workload is a static Go binary built
here and put in a FROM-scratch image with the Docker SDK; `kind load docker-image` (elsewhere)
then copies it into the nodes. The tag is a digest of the sources and of the build recipe, so it
is never `latest` (which the kubelet would try to pull), and an unchanged source is built once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from harness.dockerclient import image_exists
from harness.errors import HarnessError
from harness.nodeimage import proc
from harness.nodeimage.stages import locked
from harness.paths import TESTAPP_SOURCES, cache_dir

IMAGE_REPOSITORY = "static-pod-harness/testapp"
BINARY_NAME = "testapp"
# Part of the tag's digest: a change of how the binary is built is a new image too.
GO_BUILD_ARGS = ("build", "-buildvcs=false", "-trimpath", "-ldflags=-s -w", "-o")


def source_digest(sources: Path) -> str:
    """sha256 over every file's relative path and content, plus the build recipe."""
    digest = hashlib.sha256(repr(GO_BUILD_ARGS).encode())
    for path in sorted(p for p in sources.rglob("*") if p.is_file()):
        digest.update(path.relative_to(sources).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def image_reference(digest: str) -> str:
    """`static-pod-harness/testapp:<first 12 hex of the digest>`."""
    return f"{IMAGE_REPOSITORY}:{digest[:12]}"


def build_test_image(client: docker.DockerClient) -> str:
    """Build the test image unless its tag is already there, and return its reference."""
    if not (TESTAPP_SOURCES / "Dockerfile").is_file():
        raise HarnessError(f"test image sources missing: {TESTAPP_SOURCES}/Dockerfile does not exist")
    digest = source_digest(TESTAPP_SOURCES)
    reference = image_reference(digest)
    # Parallel workers (and runs side by side) all want it at once: one builds, the others wait.
    with locked(cache_dir() / "testapp.image.lock", f"test image {reference}"):
        return _build(client, digest, reference)


def _build(client: docker.DockerClient, digest: str, reference: str) -> str:
    try:
        if image_exists(client, reference):
            return reference
        arch = client.version().get("Arch", "amd64")
        with tempfile.TemporaryDirectory(prefix="testapp-image-") as context:
            _go_build(Path(context) / BINARY_NAME, goarch=arch)
            shutil.copy(TESTAPP_SOURCES / "Dockerfile", Path(context) / "Dockerfile")
            client.images.build(
                path=context,
                tag=reference,
                pull=False,
                rm=True,
                forcerm=True,
                labels={"static-pod-harness.source-digest": digest},
            )
    except docker.errors.BuildError as err:
        raise HarnessError(f"docker build of {reference} failed: {_one_line(str(err.msg))}") from err
    except (docker.errors.DockerException, requests.exceptions.RequestException) as err:
        raise HarnessError(
            f"cannot build {reference}: Docker daemon unreachable or failing ({_one_line(str(err))});"
            " start Docker or set DOCKER_HOST"
        ) from err
    return reference


def _go_build(output: Path, *, goarch: str) -> None:
    """A static linux binary (CGO off) for the daemon's architecture, which kind nodes share.

    Run as the node image's builds are (proc.run): bounded, and ended with its children."""
    go = shutil.which("go")
    if go is None:
        raise HarnessError("Go toolchain not found on PATH: install Go >= 1.22 to build the test image")
    env = {**os.environ, "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": goarch}
    built = proc.run([go, *GO_BUILD_ARGS, str(output), "."], cwd=TESTAPP_SOURCES, env=env)
    if built.returncode != 0:
        raise HarnessError(f"go build in {TESTAPP_SOURCES} failed: {_one_line(built.stderr)}")


def _one_line(text: str) -> str:
    """Multi-line tool output (go's `# package` headers, docker's logs) as one message line."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return "; ".join(lines[:3]) or "no output"
