"""Waits with no deadline of their own get one: build commands and kind's steps that overrun are
ended with every process they started, and the run stops with one line naming the step."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from harness.cluster import kind as kind_module
from harness.cluster import watchdog
from harness.cluster.kind import Kind, WatchedKindCluster
from harness.errors import HarnessError
from harness.nodeimage import proc, rootfs
from harness.provision import testimage


def _gone(pid: int) -> bool:
    """No such process, or a zombie (ended, not yet reaped by whoever its parent is now)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _gone(pid)


def test_a_build_command_that_overruns_is_ended_with_its_children_and_names_its_step(tmp_path, monkeypatch):
    monkeypatch.setattr(proc, "COMMAND_TIMEOUT", 0.5)
    monkeypatch.setattr(proc, "GRACE", 1.0)
    pids = tmp_path / "pids"
    # A debootstrap stand-in: says which step it is at, then hangs in a child, ignoring SIGTERM.
    script = f"echo 'I: Retrieving libc6'; sleep 300 & echo $! > {pids}; trap '' TERM; wait"
    start = time.monotonic()
    with pytest.raises(HarnessError) as overran:
        proc.run(["sh", "-c", script], status=rootfs.debootstrap_status)
    assert time.monotonic() - start < 10
    message = str(overran.value)
    assert message.startswith("`sh` was still running after 0.5s (its bound) and was ended, at: ")
    assert "debootstrap trixie: Retrieving libc6" in message and "\n" not in message
    assert _wait_gone(int(pids.read_text()))


def test_a_build_command_within_its_bound_runs_to_its_end(monkeypatch):
    monkeypatch.setattr(proc, "COMMAND_TIMEOUT", 30)
    done = proc.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_the_test_images_go_build_that_overruns_is_ended_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(proc, "COMMAND_TIMEOUT", 0.5)
    monkeypatch.setattr(proc, "GRACE", 1.0)
    go = tmp_path / "bin" / "go"  # a go that hangs, as on a module proxy that stopped answering
    go.parent.mkdir()
    go.write_text("#!/bin/sh\nexec sleep 300\n")
    go.chmod(0o755)
    monkeypatch.setenv("PATH", f"{go.parent}:/usr/bin:/bin")
    with pytest.raises(
        HarnessError, match=r"^`go` was still running after 0.5s \(its bound\) and was ended; "
    ):
        testimage._go_build(tmp_path / "testapp", goarch="amd64")


HANGING_KIND = """#!/bin/sh
# kind that lists no clusters, and hangs in a child (as on a docker that stopped answering) otherwise
[ "$1" = get ] && exit 0
{started}
sleep 300 &
echo $! > {pids}
wait
"""


def _handle_of_hanging_kind(tmp_path: Path, started: str = "") -> WatchedKindCluster:
    binary = tmp_path / "kind"
    binary.write_text(HANGING_KIND.format(pids=tmp_path / "pids", started=started))
    binary.chmod(0o755)
    (tmp_path / "run").mkdir()
    return Kind(binary).handle("hung", tmp_path / "run" / "hung.kubeconfig", "kindest/node:x")


@pytest.mark.parametrize(
    ("step", "timeout", "call"),
    [
        ("kind create cluster --name hung", "CREATE_TIMEOUT", lambda cluster: cluster.create()),
        ("kind delete cluster --name hung", "DELETE_TIMEOUT", lambda cluster: cluster.delete()),
        (
            "kind load docker-image --name hung me/test:1",
            "LOAD_TIMEOUT",
            lambda cluster: cluster.load_docker_image("me/test:1"),
        ),
    ],
)
def test_a_kind_step_that_overruns_is_ended_with_what_it_started_and_named(
    tmp_path, monkeypatch, step, timeout, call
):
    monkeypatch.setattr(kind_module, timeout, 0.5)
    cluster = _handle_of_hanging_kind(tmp_path)
    start = time.monotonic()
    with pytest.raises(HarnessError) as overran:
        call(cluster)
    assert time.monotonic() - start < 10
    assert str(overran.value) == (
        f"`{step}` was still running after 0.5s (its bound) and was ended with every process it "
        "started: see whether docker answers (`docker ps`); on a slow machine, raise --timeout-scale"
    )
    assert _wait_gone(int((tmp_path / "pids").read_text()))


def test_a_kind_step_within_its_bound_is_left_alone_and_fails_in_its_own_words(tmp_path, monkeypatch):
    monkeypatch.setattr(kind_module, "DELETE_TIMEOUT", 30)
    cluster = _handle_of_hanging_kind(tmp_path, started="exit 3")
    with pytest.raises(subprocess.CalledProcessError):
        cluster.delete()


def test_ending_a_tree_reaches_what_its_processes_start_meanwhile(tmp_path):
    # A parent that keeps starting children: each is stopped before the tree is killed.
    spawner = subprocess.Popen(
        ["sh", "-c", f"while :; do sleep 300 & echo $! >> {tmp_path / 'pids'}; sleep 0.01; done"]
    )
    try:
        while not (tmp_path / "pids").exists():
            time.sleep(0.01)
        watchdog.end_trees({spawner.pid})
        spawner.wait(timeout=5)
        children = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
        assert all(_wait_gone(pid) for pid in children)
    finally:
        spawner.kill()
        spawner.wait()
