"""Which node image a run uses: the official kindest/node image, or the offline build.

NODE_IMAGE=auto (the default) takes the official image for the pinned kind release when
it is already present locally or a registry answers, and otherwise builds (or reuses) the
offline image. offline and official force one path; anything else is an image reference.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import docker

from harness.dockerclient import image_exists
from harness.errors import HarnessError
from harness.nodeimage import build, gomodule
from harness.nodeimage.assemble import LABEL_VERSION
from harness.nodeimage.stages import log
from harness.versions import KIND_VERSION, KubeVersion

REGISTRY_PROBE = "https://registry-1.docker.io/v2/"
NODE_IMAGE_CHOICES = ("auto", "offline", "official")


def registry_reachable(timeout: float = 3.0) -> bool:
    try:
        urllib.request.urlopen(REGISTRY_PROBE, timeout=timeout)
    except urllib.error.HTTPError:
        return True  # 401 Unauthorized: it answered
    except (urllib.error.URLError, OSError):
        return False
    return True


def official_image(version: KubeVersion) -> str | None:
    """kind's own default node image (pinned by digest in its source) when it is `version`."""
    source = gomodule.download("sigs.k8s.io/kind", KIND_VERSION).dir / "pkg/apis/config/defaults/image.go"
    match = re.search(r'Image = "(kindest/node:(v[\d.]+)@sha256:[0-9a-f]+)"', source.read_text())
    return match.group(1) if match and match.group(2) == version.tag else None


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
            raise HarnessError(
                f"kind {KIND_VERSION} has no official node image for Kubernetes {version}: use "
                "NODE_IMAGE=offline, the K8S_VERSION of kind's default image, or NODE_IMAGE=<image>"
            )
        return official
    if official and (image_exists(client, official) or registry_reachable()):
        log(f"using the official node image {official}")
        return official
    log("no official node image for this version here: using the offline build")
    return build.build(version, client)
