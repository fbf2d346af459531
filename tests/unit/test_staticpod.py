"""The static pod model: fixtures, derived manifests and the kubelet's naming rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from harness.errors import HarnessError
from harness.staticpods.manifest import (
    IMAGE_PLACEHOLDER,
    MANIFEST_FIXTURES,
    Manifest,
    mirror_pod_name,
    read_raw_fixture,
    unique_name,
)

IMAGE = "static-pod-harness/testapp:0123456789ab"
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ONE_CONTAINER = {"containers": [{"name": "a"}]}


@pytest.fixture
def web() -> Manifest:
    return Manifest.from_fixture("testapp", image=IMAGE)


@pytest.mark.parametrize("fixture", ["testapp", "two-containers", "exits", "no-kind"])
def test_every_parseable_fixture_loads_with_the_image_substituted(fixture: str) -> None:
    manifest = Manifest.from_fixture(fixture, image=IMAGE)
    assert {manifest.image_of(c) for c in manifest.container_names} == {IMAGE}
    assert IMAGE_PLACEHOLDER.encode() not in manifest.to_yaml()


def test_testapp_fixture_is_the_articles_example_on_our_image(web: Manifest) -> None:
    assert web.name == "static-web"
    assert web.labels == {"app": "static-web"}
    assert web.namespace is None
    pod = web.to_dict()
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "Never"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 5


def test_no_kind_fixture_has_no_type_meta() -> None:
    pod = Manifest.from_fixture("no-kind", image=IMAGE).to_dict()
    assert "apiVersion" not in pod
    assert "kind" not in pod


def test_malformed_fixture_is_refused_by_name_and_readable_raw() -> None:
    with pytest.raises(HarnessError, match=r"malformed\.yaml is not YAML .*use read_raw_fixture") as info:
        Manifest.from_fixture("malformed", image=IMAGE)
    assert "\n" not in str(info.value)
    raw = read_raw_fixture("malformed")
    assert raw == (MANIFEST_FIXTURES / "malformed.yaml").read_bytes()
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(raw)


def test_unknown_fixture_lists_the_ones_there_are() -> None:
    with pytest.raises(HarnessError, match=r"no manifest fixture 'nope' .*testapp"):
        Manifest.from_fixture("nope", image=IMAGE)
    with pytest.raises(HarnessError):
        read_raw_fixture("../manifests/testapp")


@pytest.mark.parametrize(
    ("pod", "problem"),
    [
        ([], "not a mapping"),
        ({"kind": "Deployment", "metadata": {"name": "x"}, "spec": ONE_CONTAINER}, "kind is 'Deployment'"),
        ({"apiVersion": "apps/v1", "metadata": {"name": "x"}, "spec": ONE_CONTAINER}, "apiVersion is 'app"),
        ({"spec": ONE_CONTAINER}, "metadata.name"),
        ({"metadata": {"name": "x"}, "spec": {"containers": []}}, "spec.containers"),
        ({"metadata": {"name": "x"}, "spec": {"containers": [{"image": "i"}]}}, "no name"),
    ],
)
def test_a_non_pod_is_refused(pod: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Manifest(pod)  # type: ignore[arg-type]


def test_a_fixture_that_is_not_a_pod_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text("kind: Deployment\nmetadata: {name: x}\n")
    monkeypatch.setattr("harness.staticpods.manifest.MANIFEST_FIXTURES", tmp_path)
    with pytest.raises(HarnessError, match=r"deploy\.yaml is not a Pod manifest: kind is 'Deployment'"):
        Manifest.from_fixture("deploy", image=IMAGE)


def test_derivations_return_new_manifests_and_leave_the_original_alone(web: Manifest) -> None:
    before = web.to_dict()
    derived = (
        web.with_name("other")
        .with_namespace("kube-system")
        .with_labels({"app.kubernetes.io/name": "x"}, tier="web")
        .with_annotations(note="n")
        .with_image("img:2")
        .with_env("app", VERSION_LABEL="v2", POD_NAME="fixed")
        .with_args("app", "serve", "--term-delay=3s")
        .with_grace_period(30)
        .with_restart_policy("Never")
    )
    assert web.to_dict() == before
    assert derived.name == "other"
    assert derived.namespace == "kube-system"
    assert derived.labels == {"app": "static-web", "app.kubernetes.io/name": "x", "tier": "web"}
    assert derived.annotations == {"note": "n"}
    assert derived.image_of("app") == "img:2"
    container = derived.to_dict()["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"] == {"name": "POD_NAME", "value": "fixed"}  # valueFrom replaced
    assert "valueFrom" in env["NODE_NAME"]
    assert env["VERSION_LABEL"]["value"] == "v2"
    assert container["args"] == ["serve", "--term-delay=3s"]
    assert derived.to_dict()["spec"]["terminationGracePeriodSeconds"] == 30
    assert derived.to_dict()["spec"]["restartPolicy"] == "Never"


def test_with_namespace_none_removes_it(web: Manifest) -> None:
    assert web.with_namespace("x").with_namespace(None).namespace is None


def test_with_image_can_target_one_container() -> None:
    pair = Manifest.from_fixture("two-containers", image=IMAGE)
    changed = pair.with_image("img:2", container="sidecar")
    assert (changed.image_of("web"), changed.image_of("sidecar")) == (IMAGE, "img:2")


def test_naming_an_unknown_container_says_which_there_are(web: Manifest) -> None:
    with pytest.raises(ValueError, match=r"no container 'nope' \(has \['app'\]\)"):
        web.with_env("nope", A="b")


def test_without_type_meta(web: Manifest) -> None:
    pod = web.without_type_meta().to_dict()
    assert "apiVersion" not in pod
    assert "kind" not in pod
    assert pod["metadata"]["name"] == "static-web"


def test_without_type_meta_may_drop_one_field(web: Manifest) -> None:
    assert "apiVersion" in web.without_type_meta("kind").to_dict()
    assert "kind" in web.without_type_meta("apiVersion").to_dict()


def test_with_spec_sets_top_level_spec_fields_on_a_copy(web: Manifest) -> None:
    volumes = [{"name": "v", "secret": {"secretName": "s"}}]
    changed = web.with_spec(schedulerName="other", volumes=volumes)
    volumes[0]["name"] = "mutated"
    assert changed.to_dict()["spec"]["schedulerName"] == "other"
    assert changed.to_dict()["spec"]["volumes"] == [{"name": "v", "secret": {"secretName": "s"}}]
    assert "schedulerName" not in web.to_dict()["spec"]


def test_accessors_return_copies(web: Manifest) -> None:
    web.labels["app"] = "changed"
    web.to_dict()["metadata"]["name"] = "changed"
    assert web.labels == {"app": "static-web"}
    assert web.name == "static-web"


def test_yaml_and_json_render_the_same_pod_in_order(web: Manifest) -> None:
    assert yaml.safe_load(web.to_yaml()) == json.loads(web.to_json()) == web.to_dict()
    assert web.to_yaml().startswith(b"apiVersion: v1\nkind: Pod\n")


def test_manifests_compare_by_content(web: Manifest) -> None:
    same = Manifest.from_fixture("testapp", image=IMAGE)
    assert web == same
    assert hash(web) == hash(same)
    assert web != web.with_grace_period(1)


def test_mirror_name_lower_cases_the_node_name() -> None:
    assert mirror_pod_name("static-web", "kind-worker") == "static-web-kind-worker"
    assert mirror_pod_name("static-web", "Kind-Worker2") == "static-web-kind-worker2"


def test_unique_names_are_fresh_dns1123_labels() -> None:
    names = {unique_name("static-web") for _ in range(50)}
    assert len(names) == 50
    assert all(DNS1123_LABEL.match(n) and n.startswith("static-web-") for n in names)


@pytest.mark.parametrize("prefix", ["test_mirror[1.34-Kind]", "x" * 100, "--", "a-" * 40])
def test_unique_name_makes_any_prefix_fit(prefix: str) -> None:
    name = unique_name(prefix)
    assert DNS1123_LABEL.match(name), name
    assert len(name) <= 63
    assert len(mirror_pod_name(name, "n" * 63)) <= 253


def test_manifest_renders_json_for_a_json_file_name(web: Manifest) -> None:
    assert web.render_for("web.json") == web.to_json()
    assert web.render_for(".web.yaml.bak") == web.to_yaml()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01 not: [yaml", "is not YAML (unacceptable character #x0000"),
        (b"spec: {containers: [\n", "is not YAML (while parsing a flow node"),
        (b"- just\n- a list\n", "is not a Pod manifest: top level is list, not a mapping"),
        (b"kind: Pod\nmetadata: {name: x}\n", "is not a Pod manifest: spec.containers is missing or empty"),
    ],
)
def test_a_manifest_file_of_ones_own_that_is_garbage_is_one_line(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "agent.yaml"
    path.write_bytes(content)
    with pytest.raises(HarnessError) as raised:
        Manifest.from_file(path)
    assert str(raised.value).startswith(f"manifest {path} {message}")
    assert "\n" not in str(raised.value)


def test_a_manifest_file_that_is_missing_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(
        HarnessError, match=r"^cannot read manifest .*agent\.yaml: No such file or directory$"
    ):
        Manifest.from_file(tmp_path / "agent.yaml")


def test_a_manifest_file_of_ones_own_keeps_its_image_unless_it_names_the_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text(
        '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "agent"}, "spec": {"containers": '
        '[{"name": "a", "image": "me/agent:dev"}, {"name": "b", "image": "TESTAPP_IMAGE"}]}}'
    )
    assert Manifest.from_file(path).image_of("a") == "me/agent:dev"
    assert Manifest.from_file(str(path), image=IMAGE).image_of("b") == IMAGE
