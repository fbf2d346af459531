"""Which files in the staticPodPath the kubelet reads, and what it does with those it cannot use.

Sources: kubernetes.io/docs/tasks/configure-pod-container/static-pod/ (JSON or YAML; dot-files are
ignored; every other file is processed whatever its extension, so a backup copy is read too);
pkg/kubelet/config/file.go extractFromDir (glob "[^.]*", sorted, no recursion, errors logged per
file), file_linux.go (dot-file events ignored), common.go tryDecodeSinglePod.
"""

import json
import posixpath
from datetime import UTC, datetime

import pytest

from harness.staticpods.manifest import read_raw_fixture, unique_name


@pytest.mark.claim("S10", "confirmed")
def test_dot_files_are_ignored(static_pods):
    """S10; docs; file.go extractFromDir (glob "[^.]*"); file_linux.go ("starts with dots")."""
    manifest = static_pods.manifest()

    pod = static_pods.place(manifest, filename=f".{manifest.name}.yaml")

    static_pods.assert_not_run(pod, relist=True)  # both readers: inotify and the re-list's glob


def test_subdirectories_are_not_read(static_pods, node_dirs):
    """file.go extractFromDir ("Provided manifest path is a directory, not recursing into manifest path")."""
    node, manifest, since = static_pods.default_node(), static_pods.manifest(), datetime.now(UTC)
    subdir = node_dirs(node, posixpath.join(static_pods.manifest_dir(node), unique_name("subdir")))

    pod = static_pods.place(manifest, node=node, filename=posixpath.join(subdir, f"{manifest.name}.yaml"))

    pod.wait_for_log(since, "not recursing into manifest path", subdir)
    static_pods.assert_not_run(
        pod, relist=True
    )  # only a re-list could read it: inotify watches no subdirectory


@pytest.mark.claim("S16", "confirmed")
def test_malformed_manifest_is_logged_and_ignored_while_other_static_pods_keep_running(static_pods):
    """S16; file.go extractFromDir ("Could not process manifest file"); fixtures/manifests/malformed.yaml."""
    pod = static_pods.place(static_pods.manifest())
    _, container = pod.wait_up()
    node, since = pod.node, datetime.now(UTC)
    path = posixpath.join(static_pods.manifest_dir(node), f"{unique_name('malformed')}.yaml")
    sandboxes = {s.id for s in node.crictl.pods()}

    static_pods.place_file(node, path, read_raw_fixture("malformed"))

    pod.wait_for_log(since, "Could not process manifest file", path)
    pod.assert_container_kept(container)
    assert {s.id for s in node.crictl.pods()} - sandboxes == set(), "no new pod sandbox on the node"


@pytest.mark.claim(
    "S11",
    "refuted",
    "The kubelet refuses a manifest without kind or without apiVersion "
    "(\"couldn't parse as pod(Object 'Kind' is missing ...)\"): it logs the error and runs nothing.",
)
@pytest.mark.parametrize(
    ("dropped", "error"),
    [
        (("apiVersion", "kind"), "Object 'Kind' is missing"),
        (("kind",), "Object 'Kind' is missing"),
        (("apiVersion",), "Object 'apiVersion' is missing"),
    ],
    ids=["both", "kind", "apiVersion"],
)
def test_manifest_without_kind_or_api_version_is_refused_and_logged(static_pods, dropped, error):
    """S11; common.go tryDecodeSinglePod (runtime.Decode needs both); fixtures/manifests/no-kind.yaml."""
    manifest = static_pods.manifest("no-kind" if len(dropped) == 2 else "testapp").without_type_meta(*dropped)
    since = datetime.now(UTC)

    pod = static_pods.place(manifest)

    static_pods.assert_refused(pod, since, error)


def test_json_manifest_runs(static_pods):
    """docs (manifests in JSON or YAML); common.go tryDecodeSinglePod (YAML is turned into JSON first)."""
    manifest = static_pods.manifest().with_labels(format="json")

    pod = static_pods.place(
        manifest, filename=f"{manifest.name}.json", data=json.dumps(manifest.to_dict()).encode()
    )

    assert pod.wait_for_running_mirror().metadata.labels["format"] == "json"


@pytest.mark.parametrize("suffix", [".yaml.bak", ".txt", ""], ids=["yaml.bak", "txt", "none"])
def test_a_file_is_read_whatever_its_extension(static_pods, suffix):
    """docs caution (every file but dot-files is processed, a backup copy too); file.go glob "[^.]*"."""
    manifest = static_pods.manifest()

    pod = static_pods.place(manifest, filename=f"{manifest.name}{suffix}")

    pod.wait_for_running_mirror()


def test_backup_copy_with_the_same_pod_name_shadows_the_manifest_through_a_re_list(static_pods):
    """docs caution (a backup copy is read too); k/k #136962; file.go (pods keyed by namespace/name; a
    re-list reads the files in name order, so `x.yaml.bak` wins over `x.yaml` every time)."""
    manifest = static_pods.manifest()
    pod = static_pods.place(manifest.with_labels(copy="manifest"))
    pod.wait_for_mirror(lambda m: m.metadata.labels["copy"] == "manifest", "from the manifest")

    static_pods.place(manifest.with_labels(copy="backup"), filename=f"{manifest.name}.yaml.bak")
    backup = pod.wait_for_mirror(lambda m: m.metadata.labels["copy"] == "backup", "from the backup copy")
    static_pods.wait_kubelet_caught_up(pod.node, relist=True)

    assert pod.mirror().metadata.uid == backup.metadata.uid, "the backup copy's pod, kept through a re-list"


@pytest.mark.claim(
    "S15",
    "partly",
    "The kubelet runs as root, so it reads and runs a root-owned manifest even "
    "with mode 0000: root:root 644 is the convention, not a requirement.",
)
def test_manifest_without_any_permission_bits_runs_since_the_kubelet_is_root(static_pods):
    """S15; file.go extractFromFile (os.Open as the kubelet's user); kubelet unit runs as root."""
    pod = static_pods.place(static_pods.manifest(), mode=0o000)

    pod.wait_for_running_mirror()

    assert pod.node.file(pod.path).mode == 0
    assert pod.node.run("stat", "-c", "%u", f"/proc/{pod.node.kubelet.pid()}").stdout.strip() == "0"
