"""Which node image a run uses: an official kindest/node image, kind's release build, or the offline build.

NODE_IMAGE=auto (the default) never compiles Kubernetes on a connected machine. It takes, in order:
the image for this version that the pinned kind release publishes (harness.versions.KIND_IMAGES)
when it is present locally or a registry answers; else an image made by kind's own builder from the
Kubernetes release binaries (`kind build node-image --type release`) when a registry and the release
downloads (dl.k8s.io) both answer: that builder also pulls kind's base image and the etcd, CoreDNS,
pause and CNI images; else the offline build from Go modules. offline and official force one path;
anything else is an image reference.
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request

import docker

from harness.dockerclient import image_exists
from harness.errors import HarnessError
from harness.nodeimage import build, gomodule
from harness.nodeimage.assemble import LABEL_VERSION
from harness.nodeimage.progress import log
from harness.paths import DEFAULT_KIND_BIN
from harness.versions import KIND_IMAGES, KIND_VERSION, KubeVersion
from harness.waiting import scaled

REGISTRY_PROBE = "https://registry-1.docker.io/v2/"
RELEASE_PROBE = "https://dl.k8s.io/"
NODE_IMAGE_CHOICES = ("auto", "offline", "official")
RELEASE_REPOSITORY = "static-pod-harness/node-release"
# Seconds for `kind build node-image --type release` (the server tarball, a few image pulls), scaled.
RELEASE_BUILD_TIMEOUT = 1800


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is an answer: one request, not a walk to wherever it points


_OPENER = urllib.request.build_opener(_NoRedirect)


def _answers(url: str, timeout: float) -> bool:
    """Does `url` answer one HTTPS HEAD request, with any status, within `timeout` seconds?"""
    try:
        _OPENER.open(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # 401 from the registry, a redirect from dl.k8s.io: it answered
    except (urllib.error.URLError, OSError):
        return False
    return True


def registry_reachable(timeout: float = 3.0) -> bool:
    return _answers(REGISTRY_PROBE, timeout)


def release_downloads_reachable(timeout: float = 3.0) -> bool:
    """Kubernetes' release download host, where kind's release builder gets the server binaries."""
    return _answers(RELEASE_PROBE, timeout)


def kind_default_image() -> str:
    """kind's own default node image, pinned by digest in the pinned kind module's source."""
    source = gomodule.download("sigs.k8s.io/kind", KIND_VERSION).dir / "pkg/apis/config/defaults/image.go"
    match = re.search(r'Image = "(kindest/node:v[\d.]+@sha256:[0-9a-f]{64})"', source.read_text())
    if not match:
        raise HarnessError(f"no default node image in {source}")
    return match.group(1)


def official_image(version: KubeVersion) -> str | None:
    """The kindest/node image the pinned kind release publishes for `version`, pinned by digest."""
    default = kind_default_image()
    if default not in KIND_IMAGES.values():
        raise HarnessError(
            f"harness/versions.py KIND_IMAGES is not kind {KIND_VERSION}'s table: kind's default image "
            f"{default} is not in it; copy the images from kind {KIND_VERSION}'s release notes"
        )
    return KIND_IMAGES.get(str(version))


def release_image(version: KubeVersion) -> str:
    return f"{RELEASE_REPOSITORY}:{version.tag}"


def build_release_image(version: KubeVersion) -> str:
    """`kind build node-image --type release`: kind's builder, from the release's server binaries.

    The image is tagged only by kind's final `docker commit`, so a failed build leaves no tag.
    """
    image = release_image(version)
    kind = str(DEFAULT_KIND_BIN)
    command = [kind, "build", "node-image", "--type", "release", "--image", image, version.tag]
    log(f"building {image} with kind's release builder (downloads the {version.tag} server binaries)")
    try:
        # kind's output goes to stderr: stdout is for the chosen image's name.
        proc = subprocess.run(command, stdout=sys.stderr, timeout=scaled(RELEASE_BUILD_TIMEOUT))
    except FileNotFoundError:
        raise HarnessError(f"kind is not at {kind}: run `make host-setup`") from None
    except subprocess.TimeoutExpired:
        raise HarnessError(
            f"`kind build node-image --type release {version.tag}` did not finish in "
            f"{scaled(RELEASE_BUILD_TIMEOUT):g}s"
        ) from None
    if proc.returncode != 0:
        raise HarnessError(
            f"`kind build node-image --type release {version.tag}` failed (exit {proc.returncode}, "
            "its output is above): use NODE_IMAGE=offline to build without it"
        )
    return image


def built_offline(client: docker.DockerClient, image: str) -> bool:
    """Was `image` made by harness.nodeimage? Such images need the offline kind config patches."""
    return LABEL_VERSION in (client.images.get(image).labels or {})


def choose_node_image(setting: str, version: KubeVersion, client: docker.DockerClient) -> str:
    """auto, offline or official (built when it is the offline image), or an image reference."""
    if setting not in NODE_IMAGE_CHOICES:
        if not image_exists(client, setting):
            if not registry_reachable():
                raise HarnessError(
                    f"node image {setting} is not on this machine and no registry answers: "
                    "build one with `make node-image`, or use NODE_IMAGE=offline"
                )
            log(f"node image {setting} is not present locally: kind will pull it")
        return setting
    if setting == "offline":
        return build.build(version, client)
    official = official_image(version)
    if setting == "official":
        if official is None:
            published = ", ".join(KIND_IMAGES)
            raise HarnessError(
                f"kind {KIND_VERSION} publishes no node image for Kubernetes {version}, only for "
                f"{published}: use one of those, NODE_IMAGE=auto or offline, or NODE_IMAGE=<image>"
            )
        return official
    for present in (official, release_image(version)):
        if present and image_exists(client, present):
            log(f"using the node image {present}, present on this machine")
            return present
    registry = registry_reachable()
    if official and registry:
        log(f"using the official node image {official}")
        return official
    if registry and release_downloads_reachable():
        return build_release_image(version)
    log("no registry or no Kubernetes release downloads here: using the offline build")
    return build.build(version, client)
