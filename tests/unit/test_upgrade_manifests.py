"""The user's own manifests for an upgrade check (MANIFESTS=DIR): each bad file one line, before any
cluster; images from the local Docker or the node image."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.upgrade import manifests
from harness.upgrade.manifests import (
    UserManifest,
    image_problems,
    images_to_load,
    normalize_image,
    read_manifests,
    validate,
)

ETCD_LIKE = """\
apiVersion: v1
kind: Pod
metadata: {name: store, namespace: kube-system}
spec:
  initContainers: [{name: init, image: "busybox:1.36"}]
  containers: [{name: store, image: registry.k8s.io/etcd:3.5.21-0}]
  volumes: [{name: data, hostPath: {path: /var/lib/store, type: DirectoryOrCreate}}]
"""
AGENT_JSON = (
    '{"kind": "Pod", "metadata": {"name": "agent"}, '
    '"spec": {"containers": [{"name": "a", "image": "agent:dev"}]}}'
)


def write(directory: Path, **files: str) -> Path:
    for name, text in files.items():
        (directory / name.replace("_", ".", 1)).write_text(text)
    return directory


def test_every_manifest_file_is_read_and_others_are_left_alone(tmp_path: Path) -> None:
    write(tmp_path, store_yaml=ETCD_LIKE, agent_json=AGENT_JSON, notes_txt="not a manifest")
    (tmp_path / ".hidden.yaml").write_text("{")

    found, problems = read_manifests(tmp_path)

    assert problems == []
    assert [(u.path.name, u.key) for u in found] == [
        ("agent.json", "default/agent"),
        ("store.yaml", "kube-system/store"),
    ]
    assert found[1].images == ("busybox:1.36", "registry.k8s.io/etcd:3.5.21-0")


def test_each_bad_file_gets_one_line(tmp_path: Path) -> None:
    write(
        tmp_path,
        a_yaml="kind: Deployment\nmetadata: {name: a}\n",
        b_yml="spec: [unclosed\n",
        c_yaml=ETCD_LIKE,
        d_yaml=ETCD_LIKE,
        e_yaml=ETCD_LIKE.replace("name: store,", "name: etcd,"),
    )

    found, problems = read_manifests(tmp_path)

    assert [u.path.name for u in found] == ["c.yaml"]
    assert len(problems) == 4 and all("\n" not in p for p in problems)
    assert problems[0] == f"{tmp_path}/a.yaml: not a Pod: kind is 'Deployment', not 'Pod'"
    assert problems[1].startswith(f"{tmp_path}/b.yml: unparsable: while parsing")
    assert problems[2] == f"{tmp_path}/d.yaml: name clash: pod kube-system/store is also in {tmp_path}/c.yaml"
    assert problems[3] == (
        f"{tmp_path}/e.yaml: name clash: pod kube-system/etcd is the control plane's own (kubeadm's); "
        "rename it"
    )


def test_a_directory_without_manifests_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"MANIFESTS=.*: no \*.yaml, \*.yml, \*.json file in it"):
        read_manifests(tmp_path)
    with pytest.raises(HarnessError, match="no such directory"):
        read_manifests(tmp_path / "missing")


@pytest.mark.parametrize(
    ("reference", "normal"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("me/agent:dev", "docker.io/me/agent:dev"),
        ("registry.k8s.io/etcd:3.5.21-0", "registry.k8s.io/etcd:3.5.21-0"),
        ("localhost:5000/a", "localhost:5000/a:latest"),
        ("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc"),
    ],
)
def test_image_references_are_compared_as_containerd_names_them(reference: str, normal: str) -> None:
    assert normalize_image(reference) == normal


def test_an_image_neither_local_nor_in_the_node_image_is_one_line(tmp_path: Path) -> None:
    found, _ = read_manifests(write(tmp_path, store_yaml=ETCD_LIKE, agent_json=AGENT_JSON))
    asked: list[bool] = []

    def node_image() -> list[str]:
        asked.append(True)
        return ["registry.k8s.io/etcd:3.5.21-0"]

    problems = image_problems(found, {"agent:dev"}, node_image)

    assert problems == [
        f"{tmp_path}/store.yaml: image busybox:1.36 is neither in the local Docker nor in the node image: "
        "docker pull (or build) it first"
    ]
    assert asked == [True]  # asked once, only because some image was not local
    assert (
        image_problems(found, {"agent:dev", "busybox:1.36", "registry.k8s.io/etcd:3.5.21-0"}, node_image)
        == []
    )
    assert asked == [True]
    assert images_to_load(found, {"docker.io/library/agent:dev", "busybox:1.36"}) == [
        "agent:dev",
        "busybox:1.36",
    ]


def test_validate_puts_every_bad_file_in_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, a_yaml="kind: Service\nmetadata: {name: a}\n", store_yaml=ETCD_LIKE)
    monkeypatch.setattr(manifests, "local_docker_images", lambda: {"busybox:1.36"})
    monkeypatch.setattr(manifests, "node_image_images", lambda image: [])

    with pytest.raises(HarnessError) as caught:
        validate(tmp_path, "static-pod-harness/node:v1.37.2")

    lines = str(caught.value).splitlines()
    assert lines[0] == f"MANIFESTS={tmp_path}: 2 bad file(s):"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        f"{tmp_path}/a.yaml",
        f"{tmp_path}/store.yaml",
    ]


def test_validate_returns_the_pods_and_the_local_images_to_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, store_yaml=ETCD_LIKE)
    monkeypatch.setattr(manifests, "local_docker_images", lambda: {"busybox:1.36"})
    monkeypatch.setattr(manifests, "node_image_images", lambda image: ["registry.k8s.io/etcd:3.5.21-0"])

    found, load = validate(tmp_path, "static-pod-harness/node:v1.37.2")

    assert [u.key for u in found] == ["kube-system/store"] and isinstance(found[0], UserManifest)
    assert load == ["busybox:1.36"]
