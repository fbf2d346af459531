from kubernetes import client as k8s

from harness.staticpods.mirror_checks import mirror_problems

NODE = k8s.V1Node(metadata=k8s.V1ObjectMeta(name="worker", uid="node-uid"))
OWNER = k8s.V1OwnerReference(api_version="v1", kind="Node", name="worker", uid="node-uid", controller=True)
VALID = {
    "kubernetes.io/config.hash": "h",
    "kubernetes.io/config.mirror": "h",
    "kubernetes.io/config.source": "file",
}


def mirror(annotations=VALID, owners=(OWNER,)) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            name="p-worker", annotations=dict(annotations), owner_references=list(owners)
        )
    )


def test_a_mirror_as_the_kubelet_makes_it_has_no_problems():
    assert mirror_problems(mirror(), NODE) == []


def test_a_config_mirror_other_than_the_hash_is_a_problem():
    (problem,) = mirror_problems(mirror({**VALID, "kubernetes.io/config.mirror": "old"}), NODE)
    assert "'old' is not the config.hash 'h'" in problem


def test_an_api_source_or_none_is_a_problem():
    assert mirror_problems(mirror({**VALID, "kubernetes.io/config.source": "api"}), NODE)
    assert mirror_problems(mirror({k: v for k, v in VALID.items() if "source" not in k}), NODE)


def test_a_missing_annotation_is_a_problem():
    assert len(mirror_problems(mirror({"kubernetes.io/config.source": "file"}), NODE)) == 2


def test_an_owner_besides_the_node_or_another_node_is_a_problem():
    other = k8s.V1OwnerReference(api_version="v1", kind="Node", name="worker", uid="old-uid", controller=True)
    assert mirror_problems(mirror(owners=(OWNER, OWNER)), NODE)
    assert mirror_problems(mirror(owners=(other,)), NODE)
    assert mirror_problems(mirror(owners=()), NODE)
