"""NODE_IMAGE=auto's choice between the official image, kind's release build and the offline build.

The probes and the builders are replaced: the choice itself cannot be exercised on this machine,
which reaches neither a registry nor the Kubernetes release downloads.
"""

from __future__ import annotations

import http.server
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import docker
import pytest

from harness.errors import HarnessError
from harness.nodeimage import choose
from harness.paths import DEFAULT_KIND_BIN
from harness.versions import KIND_IMAGES, KubeVersion

IN_TABLE = KubeVersion.parse("1.36.4")
NOT_IN_TABLE = KubeVersion.parse("1.37.2")
OFFICIAL = KIND_IMAGES["1.36.4"]
RELEASE_IMAGE = "static-pod-harness/node-release:v1.37.2"


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name: str) -> SimpleNamespace:
        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return SimpleNamespace(labels={})


def client_with(*present: str) -> Any:
    return SimpleNamespace(images=FakeImages(set(present)))


def no_probe() -> bool:
    raise AssertionError("no network probe expected")


@pytest.fixture
def builders(monkeypatch: pytest.MonkeyPatch) -> None:
    """kind's default image is the table's; the builders only say what they would have built."""
    monkeypatch.setattr(choose, "kind_default_image", lambda: KIND_IMAGES["1.37.0"])
    monkeypatch.setattr(choose.build, "build", lambda version, client: f"offline:{version.tag}")
    monkeypatch.setattr(choose, "build_release_image", lambda version: f"release:{version.tag}")


def reachable(monkeypatch: pytest.MonkeyPatch, registry: bool, release: bool) -> None:
    monkeypatch.setattr(choose, "registry_reachable", lambda: registry)
    monkeypatch.setattr(choose, "release_downloads_reachable", lambda: release)


@pytest.mark.usefixtures("builders")
@pytest.mark.parametrize(
    "version, registry, release, chosen",
    [
        (IN_TABLE, True, True, OFFICIAL),
        (IN_TABLE, True, False, OFFICIAL),
        (IN_TABLE, False, True, "offline:v1.36.4"),  # kind's release builder pulls from registries too
        (IN_TABLE, False, False, "offline:v1.36.4"),
        (NOT_IN_TABLE, True, True, "release:v1.37.2"),
        (NOT_IN_TABLE, True, False, "offline:v1.37.2"),
        (NOT_IN_TABLE, False, True, "offline:v1.37.2"),
        (NOT_IN_TABLE, False, False, "offline:v1.37.2"),
    ],
)
def test_auto_compiles_kubernetes_only_without_a_registry_or_the_release_downloads(
    monkeypatch: pytest.MonkeyPatch, version: KubeVersion, registry: bool, release: bool, chosen: str
) -> None:
    reachable(monkeypatch, registry, release)
    assert choose.choose_node_image("auto", version, client_with()) == chosen


@pytest.mark.usefixtures("builders")
@pytest.mark.parametrize("version, present", [(IN_TABLE, OFFICIAL), (NOT_IN_TABLE, RELEASE_IMAGE)])
def test_auto_takes_an_image_already_here_without_probing(
    monkeypatch: pytest.MonkeyPatch, version: KubeVersion, present: str
) -> None:
    monkeypatch.setattr(choose, "registry_reachable", no_probe)
    monkeypatch.setattr(choose, "release_downloads_reachable", no_probe)
    assert choose.choose_node_image("auto", version, client_with(present)) == present


@pytest.mark.usefixtures("builders")
def test_official_names_the_published_image_and_lets_kind_pull_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choose, "registry_reachable", no_probe)
    assert choose.choose_node_image("official", IN_TABLE, client_with()) == OFFICIAL


@pytest.mark.usefixtures("builders")
def test_official_without_a_published_image_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choose, "registry_reachable", no_probe)
    with pytest.raises(HarnessError) as raised:
        choose.choose_node_image("official", NOT_IN_TABLE, client_with())
    assert str(raised.value) == (
        "kind v0.33.0 publishes no node image for Kubernetes 1.37.2, only for 1.37.0, 1.36.4, 1.35.8, "
        "1.34.11: use one of those, NODE_IMAGE=auto or offline, or NODE_IMAGE=<image>"
    )


@pytest.mark.usefixtures("builders")
def test_offline_builds_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choose, "registry_reachable", no_probe)
    assert choose.choose_node_image("offline", IN_TABLE, client_with(OFFICIAL)) == "offline:v1.36.4"


def test_every_official_reference_is_pinned_by_digest() -> None:
    for version, reference in KIND_IMAGES.items():
        assert re.fullmatch(rf"kindest/node:v{re.escape(version)}@sha256:[0-9a-f]{{64}}", reference)


def test_a_table_of_another_kind_release_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(choose, "kind_default_image", lambda: "kindest/node:v1.35.0@sha256:" + "0" * 64)
    with pytest.raises(HarnessError, match=r"KIND_IMAGES is not kind v0\.33\.0's table"):
        choose.official_image(IN_TABLE)


def test_the_pinned_kind_modules_default_image_is_in_the_table() -> None:
    # kind's own image.go, from the Go module cache (or the module proxy)
    assert choose.kind_default_image() in KIND_IMAGES.values()


def test_the_release_build_is_kinds_own_tagged_in_the_projects_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[list[str], Any]] = []

    def run(command: list[str], stdout: Any, timeout: float) -> subprocess.CompletedProcess[str]:
        calls.append((command, stdout))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(choose.subprocess, "run", run)
    assert choose.build_release_image(NOT_IN_TABLE) == RELEASE_IMAGE
    kind = str(DEFAULT_KIND_BIN)
    command = [kind, "build", "node-image", "--type", "release", "--image", RELEASE_IMAGE, "v1.37.2"]
    assert calls == [(command, sys.stderr)]  # stdout stays for the chosen image's name


def test_a_failed_release_build_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        choose.subprocess, "run", lambda command, **_: subprocess.CompletedProcess(command, 1)
    )
    with pytest.raises(HarnessError) as raised:
        choose.build_release_image(NOT_IN_TABLE)
    assert "\n" not in str(raised.value)
    assert "--type release v1.37.2` failed (exit 1" in str(raised.value)


# --- the probes: one request, any answer counts, nothing followed ---


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server: /registry answers 401, /release a redirect; it records each request."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            seen.append(self.path)
            self.send_response(401 if self.path == "/registry" else 302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", seen
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path", ["/registry", "/release"])
def test_a_probe_counts_any_answer_and_follows_no_redirect(server: tuple[str, list[str]], path: str) -> None:
    url, seen = server
    assert choose._answers(url + path, timeout=3)
    assert seen == [path]


def test_a_probe_of_a_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert not choose._answers(f"http://127.0.0.1:{port}/", timeout=3)
