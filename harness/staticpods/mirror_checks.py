"""What upstream's node e2e checks on every mirror pod, first or recreated (test/e2e_node/mirror_pod_test.go
validateMirrorPod): the config.hash annotation set and equal to config.mirror, a config.source that is not
"api", and exactly one owner, its Node, as controller."""

from __future__ import annotations

from kubernetes import client as k8s

from harness.staticpods.manifest import (
    CONFIG_HASH_ANNOTATION,
    CONFIG_MIRROR_ANNOTATION,
    CONFIG_SOURCE_ANNOTATION,
)

# kubetypes.ApiserverSource: a pod that came from the API server is no static pod.
API_SOURCE = "api"


def mirror_problems(mirror: k8s.V1Pod, node: k8s.V1Node) -> list[str]:
    """Each way `mirror` is not a valid mirror pod of a static pod on `node`; empty when it is one."""
    annotations = mirror.metadata.annotations or {}
    hash_, mirrored = annotations.get(CONFIG_HASH_ANNOTATION), annotations.get(CONFIG_MIRROR_ANNOTATION)
    problems = []
    if not hash_:
        problems.append(f"no {CONFIG_HASH_ANNOTATION} annotation")
    if not mirrored:
        problems.append(f"no {CONFIG_MIRROR_ANNOTATION} annotation")
    elif hash_ and mirrored != hash_:
        problems.append(f"{CONFIG_MIRROR_ANNOTATION} {mirrored!r} is not the config.hash {hash_!r}")
    source = annotations.get(CONFIG_SOURCE_ANNOTATION)
    if source is None or source == API_SOURCE:
        problems.append(f"{CONFIG_SOURCE_ANNOTATION} is {source!r}")
    owners = [
        (o.api_version, o.kind, o.name, o.uid, o.controller) for o in mirror.metadata.owner_references or []
    ]
    expected = ("v1", "Node", node.metadata.name, node.metadata.uid, True)
    if owners != [expected]:
        problems.append(f"owners {owners}, not only its Node {expected}")
    return problems


def assert_valid_mirror(core: k8s.CoreV1Api, mirror: k8s.V1Pod) -> None:
    """`mirror` is a valid mirror pod of its node (mirror_problems), and Running."""
    problems = mirror_problems(mirror, core.read_node(mirror.spec.node_name))
    if mirror.status.phase != "Running":
        problems.append(f"phase {mirror.status.phase}, not Running")
    if problems:
        raise AssertionError(
            f"mirror pod {mirror.metadata.namespace}/{mirror.metadata.name}: " + "; ".join(problems)
        )
