"""The user's own static-pod manifests for an upgrade check (MANIFESTS=DIR), checked before any cluster.

Every *.yaml, *.yml and *.json file in DIR must be one Pod; each image it names must be in the
local Docker (loaded into the nodes, as the harness loads its test image) or already in the node
image's containerd. Every bad file gets one line, all of them in one HarnessError, so that a user
fixes them in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import docker
import yaml

from harness.dockerclient import docker_client
from harness.errors import HarnessError
from harness.staticpods.manifest import DEFAULT_NAMESPACE, Manifest

SUFFIXES = (".yaml", ".yml", ".json")
# The control plane's own static pods (kubeadm's manifests): a user pod of the same name would be
# mistaken for them on the control-plane node.
CONTROL_PLANE_PODS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
CONTROL_PLANE_NAMESPACE = "kube-system"
# Run in a throwaway container of the node image: containerd (given 10 s to answer), then the
# CRI namespace's image references.
_LIST_NODE_IMAGES = (
    "containerd >/dev/null 2>&1 & "
    "for i in $(seq 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done; "
    "ctr --namespace=k8s.io images list -q"
)


@dataclass(frozen=True)
class UserManifest:
    path: Path
    manifest: Manifest

    @property
    def key(self) -> str:
        """namespace/name, as the kubelet reads it (no namespace: default)."""
        return f"{self.manifest.namespace or DEFAULT_NAMESPACE}/{self.manifest.name}"

    @property
    def images(self) -> tuple[str, ...]:
        spec = self.manifest.to_dict()["spec"]
        containers = [*spec.get("initContainers", []), *spec["containers"]]
        return tuple(dict.fromkeys(str(c.get("image", "")) for c in containers))


def manifest_files(directory: Path) -> list[Path]:
    """The manifest files of `directory`, sorted; one line when it is no directory or holds none."""
    what = f"MANIFESTS={directory}"
    if not directory.is_dir():
        raise HarnessError(f"{what}: no such directory; give a directory of static-pod manifests")
    files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))
    if not files:
        raise HarnessError(f"{what}: no {', '.join('*' + s for s in SUFFIXES)} file in it")
    return files


def read_manifests(directory: Path) -> tuple[list[UserManifest], list[str]]:
    """The Pods of `directory`'s manifest files, and one line for each file that is not one or
    whose pod clashes with another's name."""
    problems: list[str] = []
    found: list[UserManifest] = []
    for path in manifest_files(directory):
        try:
            data = yaml.safe_load(path.read_bytes())
        except OSError as err:
            problems.append(f"{path}: cannot be read: {err.strerror}")
            continue
        except yaml.YAMLError as err:
            problems.append(f"{path}: unparsable: {' '.join(str(err).split())}")
            continue
        try:
            found.append(UserManifest(path, Manifest(data)))
        except ValueError as err:
            problems.append(f"{path}: not a Pod: {err}")
    owners: dict[str, Path] = {}
    kept: list[UserManifest] = []
    for user in found:
        name, namespace = user.manifest.name, user.manifest.namespace or DEFAULT_NAMESPACE
        if user.key in owners:
            problems.append(f"{user.path}: name clash: pod {user.key} is also in {owners[user.key]}")
        elif namespace == CONTROL_PLANE_NAMESPACE and name in CONTROL_PLANE_PODS:
            problems.append(
                f"{user.path}: name clash: pod {user.key} is the control plane's own (kubeadm's); rename it"
            )
        else:
            owners[user.key] = user.path
            kept.append(user)
    return kept, problems


def normalize_image(reference: str) -> str:
    """An image reference as containerd names it: docker.io/library/nginx:latest for nginx."""
    name, digest = reference.split("@", 1) if "@" in reference else (reference, "")
    first, _, rest = name.partition("/")
    if not rest or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/{name if rest else 'library/' + name}"
    if not digest and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return f"{name}@{digest}" if digest else name


def image_problems(
    manifests: Iterable[UserManifest], local: Collection[str], in_node_image: Callable[[], Collection[str]]
) -> list[str]:
    """One line for each file naming an image that is neither in the local Docker nor in the node
    image (`in_node_image` is asked only when some image is not local: it starts a container)."""
    local_names = {normalize_image(i) for i in local}
    node_names: set[str] | None = None
    problems = []
    for user in manifests:
        missing = [i for i in user.images if normalize_image(i) not in local_names]
        if missing and node_names is None:
            node_names = {normalize_image(i) for i in in_node_image()}
        missing = [i for i in missing if normalize_image(i) not in (node_names or set())]
        if missing:
            problems.append(
                f"{user.path}: image {', '.join(missing)} is neither in the local Docker nor in the node "
                f"image: docker pull (or build) it first"
            )
    return problems


def images_to_load(manifests: Iterable[UserManifest], local: Collection[str]) -> list[str]:
    """The user's images that the local Docker has, each once, to load into the nodes."""
    local_names = {normalize_image(i) for i in local}
    images = (i for user in manifests for i in user.images if normalize_image(i) in local_names)
    return list(dict.fromkeys(images))


def local_docker_images() -> set[str]:
    """Every tag the local Docker holds."""
    return {tag for image in docker_client().images.list() for tag in image.tags}


def node_image_images(node_image: str) -> list[str]:
    """The images the node image's containerd holds (a container of it, started and removed)."""
    try:
        output = docker_client().containers.run(
            node_image,
            ["-c", _LIST_NODE_IMAGES],
            entrypoint="sh",
            remove=True,
            security_opt=["seccomp=unconfined"],
        )
    except docker.errors.DockerException as exc:
        line = " ".join(str(exc).split())
        raise HarnessError(f"listing the images of the node image {node_image} failed: {line}") from None
    return output.decode().split()


def validate(directory: Path, node_image: str | None) -> tuple[list[UserManifest], list[str]]:
    """The user's manifests and the local images to load for them; a HarnessError with one line per
    bad file otherwise. Without a node image (not chosen yet), every image must be local."""
    manifests, problems = read_manifests(directory)
    local = local_docker_images()
    problems += image_problems(manifests, local, lambda: node_image_images(node_image) if node_image else [])
    if problems:
        raise HarnessError(f"MANIFESTS={directory}: {len(problems)} bad file(s):\n  " + "\n  ".join(problems))
    return manifests, images_to_load(manifests, local)
