"""Which node image a run uses: the official kindest/node image, or the offline build.

NODE_IMAGE=auto (the default) takes the official image for the pinned kind release when
it is already present locally or a registry answers, and otherwise builds (or reuses) the
offline image. offline and official force one path; anything else is an image reference.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import docker

from harness.errors import HarnessError
from harness.nodeimage import build
from harness.nodeimage.assemble import image_exists
from harness.nodeimage.stages import log
from harness.versions import KIND_VERSION, OFFICIAL_IMAGES, KubeVersion

REGISTRY_PROBE = "https://registry-1.docker.io/v2/"


def registry_reachable(timeout: float = 3.0) -> bool:
    try:
        urllib.request.urlopen(REGISTRY_PROBE, timeout=timeout)
    except urllib.error.HTTPError:
        return True  # 401 Unauthorized: it answered
    except (urllib.error.URLError, OSError):
        return False
    return True


def choose_node_image(setting: str, version: KubeVersion, client: docker.DockerClient) -> str:
    official = OFFICIAL_IMAGES.get(version.tag)
    if setting == "official":
        if official is None:
            known = ", ".join(sorted(OFFICIAL_IMAGES))
            raise HarnessError(
                f"kind {KIND_VERSION} publishes no node image for Kubernetes {version} (it has {known}): "
                "use NODE_IMAGE=offline"
            )
        return official
    if setting == "auto":
        if official and (image_exists(client, official) or registry_reachable()):
            log(f"using the official node image {official}")
            return official
        log("no official node image for this version here: using the offline build")
        return build.build(version, client)
    if setting == "offline":
        return build.build(version, client)
    if not image_exists(client, setting):
        log(f"node image {setting} is not present locally: kind will try to pull it")
    return setting
