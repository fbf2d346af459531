"""The offline build's safety: locks, clean trees, its own image names, one line for a full disk."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker
import pytest

from harness.nodeimage import assemble, binaries, build, fstree, images, proc, progress, recipes, rootfs
from harness.nodeimage.binaries import BuildError, go_build_counts
from harness.nodeimage.stages import StageError, Stages, cache_key


def test_the_cache_keys_keep_their_layout():
    """The keys the build computes hold what they held (a changed layout invalidates every cache).

    kubernetes is pinned to the key of caches made before the recipe revisions; the others are
    computed here, in their layout, from the current recipe revisions (which a change to what a
    stage makes bumps)."""
    go = ("go1.26.8", "x86_64", recipes.GO)
    assert build.kubernetes_key("v1.34.4", go) == "6eedcaf7579a2af1"
    sandbox = "registry.k8s.io/pause:3.10.1"
    keys = {
        "kubernetes": build.kubernetes_key("v1.34.4", go),
        **build.binary_keys(
            "v1.34.4", "v3.6.4", "v2.3.4", sandbox, go, kind_version="v0.33.0", machine="x86_64"
        ),
    }
    assert keys["rootfs"] == cache_key("rootfs", rootfs.PACKAGES, "v0.33.0", "x86_64", recipes.ROOTFS)
    assert keys["etcd"] == cache_key("etcd", "v3.6.4", go)
    assert keys["containerd"] == cache_key("containerd", "v2.3.4", go)
    assert keys["crictl"] == cache_key("crictl", binaries.CRICTL_VERSION, go)
    assert keys["pause"] == cache_key("pause", "v1.34.4", sandbox, go)
    wanted = {"pause": [sandbox], "etcd": ["registry.k8s.io/etcd:3.6.4-0"]}
    archives = build.archives_key(wanted, keys)
    assert archives == cache_key(
        "archives", wanted, "6eedcaf7579a2af1", keys["etcd"], keys["pause"], recipes.IMAGES
    )
    assert build.assemble_key(archives, keys) == cache_key(
        archives, keys["rootfs"], keys["crictl"], keys["containerd"], recipes.ASSEMBLE
    )


def test_containerd_is_the_release_kinds_base_image_builds(tmp_path):
    dockerfile = tmp_path / "images/base/Dockerfile"
    dockerfile.parent.mkdir(parents=True)
    dockerfile.write_text('FROM x\nARG TARGETARCH GO_VERSION\nARG CONTAINERD_VERSION="v2.3.4"\nRUN make\n')
    assert binaries.containerd_version(tmp_path) == "v2.3.4"
    dockerfile.write_text("FROM x\n")
    with pytest.raises(BuildError, match="no ARG CONTAINERD_VERSION"):
        binaries.containerd_version(tmp_path)


def test_a_second_build_waits_for_the_stage_and_then_finds_it_built(tmp_path, capfd):
    out, calls = tmp_path / "bin" / "etcd", []
    first = Stages()
    first.run("etcd", out, "k", lambda d: (d / "etcd").write_text("1"))
    second_done = threading.Event()

    def second() -> None:
        with Stages() as stages:
            stages.run("etcd", out, "k", calls.append)
        second_done.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    assert not second_done.is_set()  # held by the first build until it ends
    first.__exit__(None, None, None)
    thread.join(5)
    assert second_done.is_set() and calls == []  # cached: not built twice, not removed
    assert (out / "etcd").read_text() == "1"
    assert f"etcd: another build (pid {os.getpid()}) holds it; waiting" in capfd.readouterr().err


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    def full(out: Path) -> None:
        (out / "half").write_text("x")
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "half"))

    with pytest.raises(StageError) as error, Stages() as stages:
        stages.run("crictl v1.34.0", tmp_path / "bin" / "crictl", "k", full)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("crictl v1.34.0: no space left on device: free space on the disk of")
    assert f"df -h {tmp_path / 'bin'}" in message and "STATIC_POD_HARNESS_CACHE" in message
    assert [p.name for p in (tmp_path / "bin").iterdir()] == ["crictl.lock"]


def test_a_full_docker_disk_is_one_line(tmp_path):
    def full() -> None:
        raise docker.errors.APIError("write /var/lib/docker/tmp/x: no space left on device")

    lock = tmp_path / "images" / "v1.34.4.image.lock"  # locked() makes its folder: never outside tmp_path
    with pytest.raises(StageError, match=r"^assemble: no space left on device: free space on Docker's disk"):
        Stages().run_image("assemble", lock, lambda: False, full)
    assert lock.exists()


def test_a_full_disk_inside_go_build_is_recognised():
    from harness.nodeimage.stages import out_of_space

    assert out_of_space(
        RuntimeError("go build x failed:\nwrite /root/.cache/go-build/1: no space left on device")
    )
    assert not out_of_space(RuntimeError("undefined: x"))


def test_an_interrupted_stage_leaves_nothing(tmp_path):
    def interrupted(out: Path) -> None:
        (out / "half").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), Stages() as stages:
        stages.run("s", tmp_path / "s", "k", interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.lock"]


def test_heartbeat_lines_are_plain_and_say_what_is_running(capfd):
    with (
        progress.heartbeat("kubernetes v1.34.4", interval=0.05),
        progress.doing(lambda: "go build: 7 packages"),
    ):
        time.sleep(0.18)
    err = capfd.readouterr().err
    lines = err.splitlines()
    assert len(lines) >= 2 and "\r" not in err
    assert lines[0] == "[node-image] kubernetes v1.34.4: still running, 0 s, go build: 7 packages"


def test_a_step_ending_while_the_heartbeat_reads_its_status_is_no_traceback(monkeypatch):
    class Emptied(list):  # checked as non-empty, then emptied by the build's thread before the read
        def __bool__(self) -> bool:
            return True

    monkeypatch.setattr(progress, "_doing", Emptied())
    assert progress.status() == ""


def test_the_heartbeat_outlives_a_status_that_fails(capfd):
    def failing() -> str:
        raise ValueError("gone")

    lines: list[str] = []
    with progress.heartbeat("rootfs", lines.append, 0.05), progress.doing(failing):
        time.sleep(0.18)
    assert len(lines) >= 2 and lines[0] == "rootfs: still running, 0 s, (no status: gone)"
    assert "Traceback" not in capfd.readouterr().err


def test_progress_of_go_builds_and_debootstrap_is_read_from_their_output():
    stderr = "go: downloading k8s.io/api v0.34.4\nk8s.io/api/core/v1\ninternal/abi\n"
    assert go_build_counts(stderr) == "2 packages compiled, 1 modules downloaded"
    said = rootfs.debootstrap_status("", "I: Retrieving InRelease\nI: Unpacking libc6...\n")
    assert said == "debootstrap trixie: Unpacking libc6..."


def test_an_interrupted_command_is_ended_with_all_its_children(tmp_path, monkeypatch):
    monkeypatch.setattr(proc, "GRACE", 1.0)
    pids = tmp_path / "pids"
    script = f"sleep 300 & echo $! > {pids}; trap '' TERM; wait"  # the shell ignores SIGTERM

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGUSR1, interrupt)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            proc.run(["sh", "-c", script])
    finally:
        signal.signal(signal.SIGUSR1, previous)
    child = int(pids.read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def _dead(pid: int) -> bool:
    path = Path(f"/proc/{pid}/stat")
    try:
        return path.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _harness_running_a_command(tmp_path: Path, handle: bool) -> tuple[subprocess.Popen[str], int]:
    """A harness process (in a session of its own) running `sleep 300` through proc.run; returns
    it and the command's pid."""
    pidfile = tmp_path / "command.pid"
    script = f"""
import signal
import sys
from harness.interrupts import handle_interrupts
from harness.nodeimage import proc
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as a terminal's process has it, also under a nohup'd run
if {handle}:
    handle_interrupts()
try:
    proc.run(["sh", "-c", "echo $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile} && exec sleep 300"])
except KeyboardInterrupt as exc:
    print("interrupted:", exc, file=sys.stderr)
    sys.exit(130)
"""
    harness = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    for _ in range(200):
        if pidfile.exists():
            return harness, int(pidfile.read_text())
        time.sleep(0.05)
    harness.kill()
    pytest.fail(f"the command did not start: {harness.communicate()[1]}")


def _dies_soon(pid: int) -> bool:
    for _ in range(100):
        if _dead(pid):
            return True
        time.sleep(0.05)
    return False


def _end(pid: int) -> None:
    """The test's own command, if it is still there (the build it stands for would leak it)."""
    with contextlib.suppress(ProcessLookupError):
        if not _dead(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_command_dies_with_a_harness_that_is_killed(tmp_path):
    """SIGKILL unwinds nothing: the kernel ends the command (PR_SET_PDEATHSIG)."""
    harness, command = _harness_running_a_command(tmp_path, handle=False)
    try:
        harness.kill()
        harness.communicate()
        assert _dies_soon(command)
    finally:
        _end(command)


def test_sighup_ends_the_build_command_like_sigterm(tmp_path):
    harness, command = _harness_running_a_command(tmp_path, handle=True)
    try:
        harness.send_signal(signal.SIGHUP)
        _, err = harness.communicate(timeout=30)
        assert harness.returncode == 130 and f"interrupted: signal {int(signal.SIGHUP)}" in err
        assert _dies_soon(command)
    finally:
        _end(command)


MOUNTINFO = """22 1 0:21 / /proc rw - proc proc rw
90 80 0:50 / /cache/rootfs.partial/rootfs/proc rw - proc proc rw
91 90 0:51 / /cache/rootfs.partial/rootfs/proc/sys/fs/binfmt_misc rw - binfmt_misc x rw
92 80 0:52 / /cache/rootfs.partial/rootfs/with\\040space rw - tmpfs x rw
93 80 0:53 / /cache/rootfs.partial-other rw - tmpfs x rw
"""


def test_mounts_under_a_tree_are_found_deepest_first():
    assert fstree.mounts_under(Path("/cache/rootfs.partial"), MOUNTINFO) == [
        Path("/cache/rootfs.partial/rootfs/proc/sys/fs/binfmt_misc"),
        Path("/cache/rootfs.partial/rootfs/proc"),
        Path("/cache/rootfs.partial/rootfs/with space"),
    ]


def _mount_tmpfs(point: Path) -> None:
    point.mkdir(parents=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", str(point)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")


def test_a_tree_with_a_mount_left_in_it_is_unmounted_then_removed(tmp_path):
    tree = tmp_path / "rootfs.partial"
    _mount_tmpfs(tree / "rootfs" / "proc")
    (tree / "rootfs" / "proc" / "kept-by-the-mount").write_text("x")
    fstree.remove_tree(tree)
    assert not tree.exists()
    assert str(tree) not in Path("/proc/self/mountinfo").read_text()


def test_removal_never_crosses_into_another_device(tmp_path, monkeypatch):
    tree = tmp_path / "rootfs.partial"
    inside = tree / "rootfs" / "dev"
    _mount_tmpfs(inside)
    try:
        (inside / "host-device-node").write_text("must survive")
        (tree / "rootfs" / "etc").mkdir()
        monkeypatch.setattr(fstree, "detach", lambda point: None)  # as if it could not be unmounted
        with pytest.raises(fstree.TreeError, match=r"rootfs/dev is on another filesystem .*umount -l"):
            fstree.remove_tree(tree)
        assert (inside / "host-device-node").read_text() == "must survive"
        assert not (tree / "rootfs" / "etc").exists()
    finally:
        subprocess.run(["umount", str(inside)], check=True)


OURS = {assemble.LABEL_VERSION: "v1.34.4", assemble.LABEL_INPUTS: "abc"}


class FakeImages:
    def __init__(self, client: FakeClient) -> None:
        self.client = client

    def build(self, **kwargs: Any) -> tuple[None, list[object]]:
        self.client.calls.append(("build", kwargs["tag"]))
        return None, []

    def remove(self, image: str, **kwargs: Any) -> None:
        self.client.calls.append(("remove", image, kwargs))

    def get(self, image: str) -> SimpleNamespace:
        if self.client.labels is None:
            raise docker.errors.ImageNotFound(image)
        return SimpleNamespace(id="sha256:old", tags=self.client.tags, labels=self.client.labels)


class FakeClient:
    def __init__(
        self, tags: list[str] | None = None, oci: bool = False, labels: dict[str, str] | None = OURS
    ) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.tags = tags or []
        self.oci = oci
        self.labels = labels  # of the image any name names; None: no such image
        self.images = FakeImages(self)
        self.api = SimpleNamespace(get_image=self.get_image)

    def get_image(self, name: str) -> list[bytes]:
        self.calls.append(("save", name))
        return [_docker_save(name, self.oci)]


def _docker_save(name: str, oci: bool = False) -> bytes:
    """A `docker save` archive: Docker's format, and with `oci` also the OCI layout beside it
    (oci-layout, index.json, blobs/), as Docker 25 and later write it."""
    repository, tag = name.rsplit(":", 1)
    files: dict[str, object] = {
        "manifest.json": [{"Config": "c.json", "RepoTags": [name], "Layers": ["l1/layer.tar"]}],
        "repositories": {repository: {tag: "l1"}},
        "c.json": {"config": {}},
    }
    if oci:
        files["oci-layout"] = {"imageLayoutVersion": "1.0.0"}
        files["blobs/sha256/m1"] = {"schemaVersion": 2, "config": {"digest": "sha256:c1"}}
        files["index.json"] = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:m1",
                    "size": 100,
                    "annotations": {
                        "io.containerd.image.name": f"docker.io/{name}",
                        "org.opencontainers.image.ref.name": tag,
                        "other": "kept",
                    },
                }
            ],
        }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, doc in files.items():
            data = json.dumps(doc).encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_registry_names_exist_only_inside_the_archives(tmp_path):
    client = FakeClient()
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF")
    names = ["registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10"]
    archives = images.save_image_archives(client, binary, names, tmp_path, "sph-test/build")
    ours = client.calls[0][1]
    assert re.fullmatch(r"sph-test/build:pause-[0-9a-f]{12}", str(ours))  # random: not the pid
    # every name given to the host's Docker is the build's own, and only that name is removed
    assert client.calls == [("build", ours), ("save", ours), ("save", ours), ("remove", ours, {})]
    for archive, name in zip(archives, names, strict=True):
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
            repositories = json.load(tar.extractfile("repositories"))
            assert json.load(tar.extractfile("c.json")) == {"config": {}}
        assert manifest[0]["RepoTags"] == [name] and manifest[0]["Layers"] == ["l1/layer.tar"]
        assert repositories == {name.rsplit(":", 1)[0]: {name.rsplit(":", 1)[1]: "l1"}}
    assert sorted(p.suffix for p in tmp_path.iterdir()) == ["", ".tar", ".tar"]


def test_two_builds_in_containers_with_the_same_pid_use_different_scratch_tags(tmp_path):
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF")
    tags = set()
    for out in ("a", "b"):
        (tmp_path / out).mkdir()
        client = FakeClient()
        images.save_image_archives(
            client, binary, ["registry.k8s.io/pause:3.10.1"], tmp_path / out, "s/build"
        )
        tags.add(client.calls[0][1])
    assert len(tags) == 2


def test_an_oci_archive_of_docker_25_is_renamed_in_its_index_too(tmp_path):
    """containerd imports by index.json when the archive has one: the name must be there too."""
    client = FakeClient(oci=True)
    binary = tmp_path / "kube-apiserver"
    binary.write_bytes(b"\x7fELF")
    name = "registry.k8s.io/kube-apiserver:v1.34.4"
    [archive] = images.save_image_archives(client, binary, [name], tmp_path, "static-pod-harness/build")
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(tar.extractfile("manifest.json"))
        assert json.load(tar.extractfile("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
        assert json.load(tar.extractfile("blobs/sha256/m1"))["config"] == {"digest": "sha256:c1"}
    [entry] = index["manifests"]
    assert entry["annotations"] == {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": "v1.34.4",
        "other": "kept",
    }
    assert entry["digest"] == "sha256:m1" and entry["size"] == 100
    assert manifest[0]["RepoTags"] == [name]
    with tarfile.open(archive) as tar:  # the scratch tag is named nowhere in the archive
        text = b"".join(tar.extractfile(m).read() for m in tar if m.isfile())
    assert b"static-pod-harness/build" not in text


def test_an_archive_that_names_no_image_is_a_clear_error():
    with pytest.raises(BuildError, match=r"`repositories` names no image"):
        images._repositories({}, "registry.k8s.io/pause:3.10.1")
    with pytest.raises(BuildError, match=r"index.json lists no image"):
        images._index({"schemaVersion": 2, "manifests": []}, "registry.k8s.io/pause:3.10.1")


def test_a_replaced_node_image_that_someone_tagged_is_kept():
    tagged = FakeClient(tags=["my/keep:1"])
    assemble._remove_if_unused(tagged, "sha256:old")
    assert tagged.calls == []
    untagged = FakeClient()
    assemble._remove_if_unused(untagged, "sha256:old")
    assert untagged.calls == [("remove", "sha256:old", {})]


def test_a_replaced_node_image_that_no_build_made_is_kept():
    users = FakeClient(labels={"maintainer": "someone"})
    assemble._remove_if_unused(users, "sha256:old")
    assert users.calls == []


def test_an_image_of_the_users_under_the_node_image_name_is_never_replaced():
    """Refused before anything is made: no container, no tag moved, nothing removed."""
    users = FakeClient(labels={})
    with pytest.raises(
        BuildError, match=r"^static-pod-harness/node:v1.34.4 names an image this builder did not"
    ):
        assemble.assemble(
            users,
            base="static-pod-harness/node-base:k",
            name="static-pod-harness/node:v1.34.4",
            version_tag="v1.34.4",
            inputs="abc",
            node_binaries={},
            archives=[],
            expected_images=[],
            stand_ins=[],
        )
    assert users.calls == []
    assert assemble._previous(FakeClient(labels=None), "static-pod-harness/node:v1.34.4") is None
    assert assemble._previous(FakeClient(), "static-pod-harness/node:v1.34.4") == "sha256:old"


def test_the_image_namespace_is_not_a_setting(monkeypatch):
    from harness.versions import KubeVersion

    monkeypatch.setenv("STATIC_POD_HARNESS_IMAGE_NAMESPACE", "kindest")
    assert build.image_name(KubeVersion.parse("1.34.4")) == "static-pod-harness/node:v1.34.4"


def _tool(args: list[str], env: dict[str, str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**env, "STATIC_POD_HARNESS_CACHE": str(cache), "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "harness.nodeimage", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_go_missing_is_one_line(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    done = _tool(["kubernetes", "--k8s-version=1.34.4"], {"PATH": str(empty)}, tmp_path / "cache")
    assert done.returncode == 1
    assert done.stderr == (
        "error: Go is not installed (no `go` on PATH): install Go 1.24 or later (https://go.dev/dl/), "
        "then run again\n"
    )


def test_an_unreachable_module_proxy_is_one_line(tmp_path):
    go = subprocess.run(["sh", "-c", "command -v go"], capture_output=True, text=True).stdout.strip()
    if not go:
        pytest.skip("no Go here")
    env = {
        "PATH": f"{Path(go).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GOPROXY": "http://127.0.0.1:9",  # nothing listens there
        "GOMODCACHE": str(tmp_path / "mod"),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-modcacherw",
    }
    done = _tool(["kubernetes", "--k8s-version=1.34.4"], env, tmp_path / "cache")
    assert done.returncode == 1
    assert done.stderr.startswith("error: the Go module proxy does not answer (")
    assert "connection refused" in done.stderr and "set GOPROXY" in done.stderr
    assert done.stderr.count("\n") == 1
    assert not list((tmp_path / "cache").glob("bin/*/"))  # nothing built, nothing left
