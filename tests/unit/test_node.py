"""Node, its files, systemd units and the kubelet, against a fake docker container."""

from __future__ import annotations

import io
import json
import socket as pysocket
import struct
import tarfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from docker.errors import NotFound

from harness.errors import HarnessError
from harness.node import (
    DEFAULT_COMMAND_TIMEOUT,
    DockerTransport,
    Node,
    NodeCommandError,
    NodeFileNotFound,
    parse_go_duration,
    transport,
)
from harness.node.kubelet import changed_config
from harness.node.transport import STDIN_GATE
from harness.waiting import WaitTimeout

Reply = tuple[int, bytes, bytes]
KILL_AFTER = "--kill-after=5"


class FakeExecAPI:
    """docker's low-level exec API over a socketpair, with a daemon that starts each command only
    once the gate line arrives on its stdin (as `sh -c 'read -r _ && ...'` does in a real node).
    exec_start hands back what docker-py does on a unix socket: a read-only SocketIO, with the
    HTTP response whose closing closes the socket."""

    def __init__(self, container: FakeContainer) -> None:
        self.container = container
        self.created: dict[str, list[str]] = {}
        self.codes: dict[str, int] = {}
        self.failures: dict[str, BaseException] = {}
        self.daemons: dict[str, threading.Thread] = {}

    def exec_create(self, container_id: str, cmd: list[str], stdin: bool) -> dict[str, str]:
        assert (container_id, stdin) == (self.container.id, True)
        exec_id = f"exec-{len(self.created)}"
        self.created[exec_id] = cmd
        self.container.log.append(("exec", cmd))
        return {"Id": exec_id}

    def exec_start(self, exec_id: str, socket: bool) -> pysocket.SocketIO:
        assert socket
        client, daemon = pysocket.socketpair()
        self.daemons[exec_id] = threading.Thread(target=self._serve, args=(exec_id, daemon))
        self.daemons[exec_id].start()
        connection = pysocket.SocketIO(client, "rb")
        connection._response = SimpleNamespace(close=client.close)  # type: ignore[attr-defined]
        return connection

    def exec_inspect(self, exec_id: str) -> dict[str, int]:
        self.daemons[exec_id].join()
        if exec_id in self.failures:
            raise self.failures[exec_id]
        return {"ExitCode": self.codes[exec_id]}

    def _serve(self, exec_id: str, daemon: pysocket.socket) -> None:
        try:
            with daemon, daemon.makefile("rb") as stdin:
                daemon.settimeout(5)
                cmd = self.created[exec_id]
                assert cmd[: len(STDIN_GATE)] == list(STDIN_GATE)
                assert stdin.readline() == b"\n", "the gate line, before any output"
                code, out, err = self.container.reply(unwrap(cmd))
                for stream, data in ((1, out), (2, err)):
                    if data:
                        daemon.sendall(struct.pack(">BxxxL", stream, len(data)) + data)
                self.codes[exec_id] = code
        except BaseException as failure:  # handed to the test's thread by exec_inspect
            self.failures[exec_id] = failure


class FakeContainer:
    """Stands for docker's Container: each exec answers from `reply`, every call is logged."""

    def __init__(self, reply: Callable[[list[str]], Reply] | None = None, name: str = "kind-worker") -> None:
        self.id = f"id-of-{name}"
        self.name = name
        self.labels = {"io.x-k8s.kind.role": "worker", "io.x-k8s.kind.cluster": "kind"}
        self.reply = reply or (lambda argv: (0, b"", b""))
        self.log: list[tuple[Any, ...]] = []
        self.put_archive_result: bool | Exception = True
        self.client = SimpleNamespace(api=FakeExecAPI(self))

    def reload(self) -> None:
        """The container still exists."""

    def put_archive(self, path: str, data: bytes) -> bool:
        self.log.append(("put_archive", path, data))
        if isinstance(self.put_archive_result, Exception):
            raise self.put_archive_result
        return self.put_archive_result

    def commands(self) -> list[list[str]]:
        return [unwrap(entry[1]) for entry in self.log if entry[0] == "exec"]


def unwrap(cmd: list[str]) -> list[str]:
    """The command without the stdin gate and the coreutils `timeout` guard Node puts around it."""
    cmd = cmd[len(STDIN_GATE) :] if cmd[: len(STDIN_GATE)] == list(STDIN_GATE) else cmd
    return cmd[3:] if cmd[:2] == ["timeout", KILL_AFTER] else cmd


def node_with(reply: Callable[[list[str]], Reply] | None = None) -> tuple[Node, FakeContainer]:
    container = FakeContainer(reply)
    return Node(DockerTransport(container), role="worker"), container  # type: ignore[arg-type]


# --- run -----------------------------------------------------------------------------------------


def test_node_name_comes_from_the_container() -> None:
    node, _ = node_with()
    assert (node.name, node.role) == ("kind-worker", "worker")


def test_run_decodes_output_under_a_timeout_guard() -> None:
    node, container = node_with(lambda argv: (0, b"hello\n", b""))
    result = node.run("echo", "hello")
    assert (result.argv, result.exit_code, result.stdout, result.stderr) == (
        ("echo", "hello"),
        0,
        "hello\n",
        "",
    )
    assert container.log == [
        ("exec", [*STDIN_GATE, "timeout", KILL_AFTER, f"{DEFAULT_COMMAND_TIMEOUT:g}", "echo", "hello"])
    ]


def test_an_exec_without_an_exit_code_is_an_error_not_a_result() -> None:
    node, _ = node_with(lambda argv: (None, b"", b""))  # type: ignore[arg-type, return-value]
    with pytest.raises(HarnessError, match=r"docker gave no exit code for .*true.* on kind-worker"):
        node.run("true")


def test_check_raises_with_node_command_exit_code_and_stderr_tail() -> None:
    stderr = "".join(f"line {n}\n" for n in range(30)).encode()
    node, _ = node_with(lambda argv: (2, b"", stderr))
    with pytest.raises(NodeCommandError) as caught:
        node.run("ls", "/nope")
    message = str(caught.value)
    assert message.startswith("`ls /nope` on node kind-worker exited with 2; stderr:\nline 10\n")
    assert "line 9\n" not in message and message.endswith("line 29")
    assert isinstance(caught.value, HarnessError)
    assert caught.value.result.exit_code == 2


def test_check_false_returns_the_failure() -> None:
    node, _ = node_with(lambda argv: (1, b"", b"no"))
    assert node.run("false", check=False).exit_code == 1


def test_a_timed_out_command_says_so() -> None:
    node, _ = node_with(lambda argv: (124, b"", b""))
    with pytest.raises(NodeCommandError, match=r"^`sleep 99` on node kind-worker timed out after 2s$"):
        node.run("sleep", "99", timeout=2)


def test_a_docker_that_stops_answering_fails_the_command_with_its_name_and_node(monkeypatch) -> None:
    monkeypatch.setattr(transport, "EXEC_OUTPUT_TIMEOUT", 0.3)
    answer = threading.Event()  # dockerd hangs until the test ends
    node, container = node_with(lambda argv: (answer.wait(5), (0, b"late", b""))[1])
    try:
        with pytest.raises(HarnessError) as hung:
            node.run("cat", "/etc/hostname")
    finally:
        answer.set()
        for daemon in container.client.api.daemons.values():
            daemon.join()
    assert str(hung.value) == (
        f"docker did not send all the output of `timeout {KILL_AFTER} {DEFAULT_COMMAND_TIMEOUT:g} cat "
        "/etc/hostname` on kind-worker within 0.3s: is dockerd hung? (`docker info` answers when it is not)"
    )


def test_output_that_arrives_byte_by_byte_is_read_whole() -> None:
    client, daemon = pysocket.socketpair()
    frames = struct.pack(">BxxxL", 1, 3) + b"out" + struct.pack(">BxxxL", 2, 2) + b"er"

    def trickle() -> None:
        with daemon:
            assert daemon.recv(1) == b"\n"
            for byte in frames:
                daemon.sendall(bytes([byte]))

    sender = threading.Thread(target=trickle)
    sender.start()
    with client:
        assert transport._open_gate_and_read(client, 5) == (b"out", b"er")
    sender.join()


def test_a_stream_that_ends_inside_a_frame_is_an_error() -> None:
    client, daemon = pysocket.socketpair()
    with client, daemon:
        daemon.sendall(struct.pack(">BxxxL", 1, 10) + b"cut")
        daemon.shutdown(pysocket.SHUT_WR)
        with pytest.raises(HarnessError, match="ended in the middle of a frame"):
            transport._open_gate_and_read(client, 5)


# --- files ---------------------------------------------------------------------------------------


def test_write_bytes_copies_a_dot_file_then_renames_it_into_place() -> None:
    node, container = node_with()
    node.file("/etc/kubernetes/manifests/web.yaml").write_bytes(b"kind: Pod\n\x00\xff", mode=0o600)

    (put, move) = container.log
    assert put[0] == "put_archive" and put[1] == "/etc/kubernetes/manifests"
    with tarfile.open(fileobj=io.BytesIO(put[2])) as archive:
        (member,) = archive.getmembers()
        content = archive.extractfile(member).read()  # type: ignore[union-attr]
    assert member.name.startswith(".web.yaml.") and "/" not in member.name
    assert (member.mode, member.uid, member.gid, member.isfile()) == (0o600, 0, 0, True)
    assert content == b"kind: Pod\n\x00\xff"
    assert unwrap(move[1]) == [
        "mv",
        "-f",
        "--",
        f"/etc/kubernetes/manifests/{member.name}",
        "/etc/kubernetes/manifests/web.yaml",
    ]


def test_write_text_encodes_and_keeps_the_default_mode() -> None:
    node, container = node_with()
    node.file("/tmp/a.yaml").write_text("é")
    with tarfile.open(fileobj=io.BytesIO(container.log[0][2])) as archive:
        (member,) = archive.getmembers()
        assert (member.mode, archive.extractfile(member).read()) == (0o644, "é".encode())  # type: ignore[union-attr]


def test_a_failed_rename_removes_the_dot_file() -> None:
    node, container = node_with(
        lambda argv: (1, b"", b"mv: cannot move") if argv[0] == "mv" else (0, b"", b"")
    )
    with pytest.raises(NodeCommandError, match="mv: cannot move"):
        node.file("/etc/m/web.yaml").write_bytes(b"x")
    staging = container.commands()[0][3]
    assert container.commands()[1] == ["rm", "-f", "--", staging]


def test_writing_into_a_missing_directory_is_file_not_found() -> None:
    node, container = node_with()
    container.put_archive_result = NotFound("no such dir")
    with pytest.raises(NodeFileNotFound, match="kind-worker:/etc/missing does not exist"):
        node.file("/etc/missing/web.yaml").write_bytes(b"x")
    with pytest.raises(FileNotFoundError):
        node.file("/etc/missing/web.yaml").write_bytes(b"x")


def test_read_bytes_is_byte_exact_and_missing_files_are_not_found() -> None:
    def reply(argv: list[str]) -> Reply:
        if argv == ["cat", "--", "/etc/a"]:
            return 0, b"\x00\xffdata", b""
        return 1, b"", f"cat: {argv[-1]}: No such file or directory".encode()

    node, _ = node_with(reply)
    assert node.file("/etc/a").read_bytes() == b"\x00\xffdata"
    with pytest.raises(NodeFileNotFound):
        node.file("/etc/b").read_text()


def test_exists_is_dir_and_mode() -> None:
    def reply(argv: list[str]) -> Reply:
        if argv[0] == "test":
            return (0 if (argv[1], argv[2]) in {("-e", "/etc/m"), ("-d", "/etc/m")} else 1), b"", b""
        return 0, b"755\n", b""

    node, _ = node_with(reply)
    manifests = node.file("/etc/m/")
    assert manifests.path == "/etc/m"
    assert manifests.exists and manifests.is_dir and manifests.mode == 0o755
    assert not node.file("/etc/x").exists


def test_relative_paths_are_refused() -> None:
    node, _ = node_with()
    with pytest.raises(HarnessError, match="absolute"):
        node.file("etc/x")


def test_remove_is_strict_unless_missing_ok() -> None:
    node, container = node_with(lambda argv: (1, b"", b"rm: cannot remove '/a': No such file or directory"))
    with pytest.raises(NodeFileNotFound):
        node.file("/a").remove()
    node, container = node_with()
    node.file("/a").remove(missing_ok=True)
    assert container.commands() == [["rm", "-f", "--", "/a"]]


def test_listdir_includes_dot_files_sorted() -> None:
    node, container = node_with(lambda argv: (0, b"web.yaml\x00.web.yaml.1a2b.tmp\x00etcd.yaml\x00", b""))
    assert node.listdir("/etc/m") == [".web.yaml.1a2b.tmp", "etcd.yaml", "web.yaml"]
    assert container.commands() == [
        ["find", "/etc/m", "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\0"]
    ]


def test_makedirs_and_move() -> None:
    node, container = node_with()
    node.makedirs("/etc/m2")
    node.move("/etc/m/web.yaml", "/tmp/web.yaml")
    assert container.commands() == [
        ["mkdir", "-p", "--", "/etc/m2"],
        ["mv", "-f", "--", "/etc/m/web.yaml", "/tmp/web.yaml"],
    ]


# --- systemd and the kubelet ---------------------------------------------------------------------


class FakeKubeletNode:
    """A node whose kubelet runs with a given command line and config file; restarts change its pid."""

    def __init__(self, cmdline: list[str] | None, files: dict[str, str]) -> None:
        self.cmdline = cmdline
        self.files = files
        self.pid = 4242 if cmdline is not None else 0
        self.healthy = True

    def reply(self, argv: list[str]) -> Reply:
        match argv:
            case ["systemctl", "show", "-p", "ActiveState,SubState,MainPID", "kubelet"]:
                state = (
                    "ActiveState=active\nSubState=running"
                    if self.pid
                    else "ActiveState=inactive\nSubState=dead"
                )
                return 0, f"MainPID={self.pid}\n{state}\n".encode(), b""
            case ["systemctl", "--no-block", "restart", "kubelet"]:
                self.pid += 1
                return 0, b"", b""
            case ["cat", "--", path] if path == f"/proc/{self.pid}/cmdline" and self.cmdline:
                return 0, ("\0".join(self.cmdline) + "\0").encode(), b""
            case ["cat", "--", path] if path in self.files:
                return 0, self.files[path].encode(), b""
            case ["cat", "--", path]:
                return 1, b"", f"cat: {path}: No such file or directory".encode()
            case ["curl", "-sf", "--max-time", "5", _]:
                return (0 if self.healthy else 7), b"ok", b""
        raise AssertionError(f"unexpected command {argv}")


def kubelet_node(
    cmdline: list[str] | None, files: dict[str, str]
) -> tuple[Node, FakeContainer, FakeKubeletNode]:
    fake = FakeKubeletNode(cmdline, files)
    node, container = node_with(fake.reply)
    return node, container, fake


CUSTOM_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: /srv/static
fileCheckFrequency: 1m0s
healthzBindAddress: 127.0.0.1
healthzPort: 10299
"""


def test_kubelet_config_is_found_through_the_running_kubelets_command_line() -> None:
    node, container, _ = kubelet_node(
        ["/usr/bin/kubelet", "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/srv/kubelet.yaml"],
        {"/srv/kubelet.yaml": CUSTOM_CONFIG},
    )
    assert node.kubelet.pid() == 4242
    assert node.kubelet.config_path() == "/srv/kubelet.yaml"
    assert node.kubelet.config()["healthzPort"] == 10299
    assert node.kubelet.static_pod_path() == "/srv/static"
    assert node.kubelet.file_check_frequency() == 60.0
    assert ["cat", "--", "/proc/4242/cmdline"] in container.commands()


def test_the_config_flag_may_come_as_two_arguments() -> None:
    node, _, _ = kubelet_node(
        ["/usr/bin/kubelet", "--config", "/srv/kubelet.yaml"], {"/srv/kubelet.yaml": CUSTOM_CONFIG}
    )
    assert node.kubelet.static_pod_path() == "/srv/static"


def test_flags_take_precedence_over_the_config_file() -> None:
    node, _, _ = kubelet_node(
        [
            "/usr/bin/kubelet",
            "--config=/srv/kubelet.yaml",
            "--pod-manifest-path=/opt/pods",
            "--file-check-frequency=5s",
        ],
        {"/srv/kubelet.yaml": CUSTOM_CONFIG},
    )
    assert node.kubelet.static_pod_path() == "/opt/pods"
    assert node.kubelet.file_check_frequency() == 5.0


def test_unset_static_pod_path_is_none_and_frequency_defaults_to_20s() -> None:
    minimal = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
    node, _, _ = kubelet_node(["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": minimal})
    assert node.kubelet.static_pod_path() is None
    assert node.kubelet.file_check_frequency() == 20.0


def test_a_zero_file_check_frequency_means_the_kubelets_default() -> None:
    kubeadms = "kind: KubeletConfiguration\nfileCheckFrequency: 0s\nsyncFrequency: 0s\n"
    node, _, _ = kubelet_node(["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": kubeadms})
    assert node.kubelet.file_check_frequency() == 20.0
    assert node.kubelet.sync_frequency() == 60.0


def test_sync_frequency_comes_from_the_flag_before_the_file() -> None:
    config = "kind: KubeletConfiguration\nsyncFrequency: 10s\n"
    from_file, _, _ = kubelet_node(["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": config})
    flagged, _, _ = kubelet_node(
        ["/usr/bin/kubelet", "--config=/srv/k.yaml", "--sync-frequency=30s"], {"/srv/k.yaml": config}
    )
    assert (from_file.kubelet.sync_frequency(), flagged.kubelet.sync_frequency()) == (10.0, 30.0)


def test_a_stopped_kubelet_falls_back_to_kubeadms_config_path() -> None:
    node, _, _ = kubelet_node(None, {"/var/lib/kubelet/config.yaml": CUSTOM_CONFIG})
    assert node.kubelet.pid() is None
    assert node.kubelet.command_line() == []
    assert node.kubelet.static_pod_path() == "/srv/static"


def test_a_stopped_kubelet_keeps_the_flags_it_last_ran_with() -> None:
    argv = ["/usr/bin/kubelet", "--pod-manifest-path=/etc/kubelet.d"]
    node, _, fake = kubelet_node(argv, {"/var/lib/kubelet/config.yaml": CUSTOM_CONFIG})
    assert node.kubelet.static_pod_path() == "/etc/kubelet.d"
    fake.pid = 0  # stopped: no process, no /proc/<pid>/cmdline
    assert node.kubelet.static_pod_path() == "/etc/kubelet.d"


def test_a_config_that_is_not_a_mapping_is_refused() -> None:
    node, _, _ = kubelet_node(["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": "- a\n- b\n"})
    with pytest.raises(HarnessError, match="not a KubeletConfiguration"):
        node.kubelet.config()


def test_healthz_uses_the_configured_address_and_port() -> None:
    node, container, fake = kubelet_node(
        ["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": CUSTOM_CONFIG}
    )
    assert node.kubelet.healthz()
    assert container.commands()[-1][-1] == "http://127.0.0.1:10299/healthz"
    fake.healthy = False
    assert not node.kubelet.healthz()


def test_kubelet_restart_waits_for_a_new_pid_and_health() -> None:
    node, container, _ = kubelet_node(
        ["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": CUSTOM_CONFIG}
    )
    state = node.kubelet.restart()
    assert state.main_pid == 4243 and state.running
    assert ["systemctl", "--no-block", "restart", "kubelet"] in container.commands()
    assert container.commands()[-1][0] == "curl"


def test_kubelet_restart_times_out_when_health_never_comes() -> None:
    node, _, fake = kubelet_node(["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": CUSTOM_CONFIG})
    fake.healthy = False
    with pytest.raises(
        WaitTimeout,
        match=r"expected the kubelet on kind-worker to answer http://127.0.0.1:10299/healthz within 0s",
    ):
        node.kubelet.restart(timeout=0)


def test_a_service_that_does_not_come_back_times_out_with_its_state() -> None:
    def reply(argv: list[str]) -> Reply:
        if argv[:2] == ["systemctl", "show"]:
            return 0, b"ActiveState=activating\nSubState=start-pre\nMainPID=0\n", b""
        return 0, b"", b""

    node, _ = node_with(reply)
    with pytest.raises(WaitTimeout) as caught:
        node.service("containerd").start(timeout=0)
    assert str(caught.value) == (
        "expected containerd on kind-worker running within 0s; "
        "last seen: ActiveState=activating SubState=start-pre MainPID=0"
    )


def journal_output(*entries: tuple[float, str]) -> bytes:
    """What `journalctl -o json` prints for kubelet lines logged at these epoch times."""
    fields = [
        {
            "__REALTIME_TIMESTAMP": str(round(when * 1e6)),
            "MESSAGE": message,
            "SYSLOG_IDENTIFIER": "kubelet",
            "_PID": "77",
        }
        for when, message in entries
    ]
    return "".join(json.dumps(f) + "\n" for f in fields).encode()


def test_journal_since_a_datetime_reads_from_its_second_and_keeps_what_came_from_it_on() -> None:
    """journalctl's --since takes whole seconds: a line from earlier in that second is dropped."""
    since = datetime(2024, 11, 27, 7, 0, 0, 900000, tzinfo=UTC)
    output = journal_output((since.timestamp() - 0.5, "before"), (since.timestamp() + 0.05, "after"))
    node, container = node_with(lambda argv: (0, output, b""))
    assert node.kubelet.journal(since) == "2024-11-27T07:00:00.950000+00:00 kubelet[77]: after\n"
    assert container.commands() == [
        ["journalctl", "-u", "kubelet", "--since", "@1732690800", "--no-pager", "--all", "-o", "json",
         "--output-fields=MESSAGE,SYSLOG_IDENTIFIER,_PID"]
    ]  # fmt: skip


def test_wait_for_log_never_takes_a_line_from_before_since_in_the_same_second() -> None:
    since = datetime(2026, 11, 27, 7, 0, 0, 500000, tzinfo=UTC)
    output = journal_output((since.timestamp() - 0.4, 'E1127 "Could not" path="/m/a.yaml"'))
    node, _ = node_with(lambda argv: (0, output, b""))
    with pytest.raises(WaitTimeout, match=r"containing \['/m/a.yaml'\]"):
        node.kubelet.wait_for_log(since, "/m/a.yaml", timeout=0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20s", 20.0),
        ("1m0s", 60.0),
        ("1h2m3.5s", 3723.5),
        ("300ms", 0.3),
        ("1.5h", 5400.0),
        ("2us", 2e-6),
        ("2µs", 2e-6),  # the micro sign, as Go writes it
        ("0", 0.0),
        ("-1m", -60.0),
        ("+.5s", 0.5),
    ],
)
def test_parse_go_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "20", "1d", "s", "1m 0s", "--1s", "1.2.3s"])
def test_parse_go_duration_refuses_non_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a Go duration"):
        parse_go_duration(text)


# --- changing the kubelet's config, stopping it, reading its journal -----------------------------


def test_changed_config_sets_and_removes_fields_on_a_copy() -> None:
    config = {"staticPodPath": "/etc/kubernetes/manifests", "fileCheckFrequency": "20s"}
    changed = changed_config(config, {"staticPodPath": None, "logging": {"verbosity": 2}})
    assert changed == {"fileCheckFrequency": "20s", "logging": {"verbosity": 2}}
    assert config["staticPodPath"] == "/etc/kubernetes/manifests"


def staged(container: FakeContainer) -> list[tuple[int, str]]:
    """Mode and content of each file put_archive copied in (the dot-files write_bytes then renames)."""
    files = []
    for entry in container.log:
        if entry[0] == "put_archive":
            with tarfile.open(fileobj=io.BytesIO(entry[2])) as archive:
                (member,) = archive.getmembers()
                files.append((member.mode, archive.extractfile(member).read().decode()))  # type: ignore[union-attr]
    return files


def reconfigurable_kubelet() -> tuple[Node, FakeContainer, FakeKubeletNode, list[dict[str, Any]]]:
    """A kubelet whose config file can be rewritten; each restart records the config it starts with."""
    node, container, fake = kubelet_node(
        ["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": CUSTOM_CONFIG}
    )
    started_with: list[dict[str, Any]] = []

    def reply(argv: list[str]) -> Reply:
        match argv:
            case ["stat", "-c", "%a", "--", "/srv/k.yaml"]:
                return 0, b"600\n", b""
            case ["mv", "-f", "--", _, target]:
                fake.files[target] = staged(container)[-1][1]
                return 0, b"", b""
            case ["systemctl", "--no-block", "restart", "kubelet"]:
                started_with.append(yaml.safe_load(fake.files["/srv/k.yaml"]))
        return fake.reply(argv)

    container.reply = reply
    return node, container, fake, started_with


def test_reconfigured_kubelet_restarts_with_the_change_then_with_its_own_file() -> None:
    node, container, fake, started_with = reconfigurable_kubelet()

    with node.kubelet.reconfigured({"staticPodPath": "/srv/one.yaml", "fileCheckFrequency": None}):
        assert node.kubelet.static_pod_path() == "/srv/one.yaml"

    assert [c.get("staticPodPath") for c in started_with] == ["/srv/one.yaml", "/srv/static"]
    assert "fileCheckFrequency" not in started_with[0]
    assert fake.files["/srv/k.yaml"] == CUSTOM_CONFIG
    assert {mode for mode, _ in staged(container)} == {0o600}


def test_reconfigured_kubelet_gets_its_file_back_when_the_body_fails() -> None:
    node, _, fake, started_with = reconfigurable_kubelet()
    with pytest.raises(RuntimeError), node.kubelet.reconfigured({"staticPodPath": "/srv/one.yaml"}):
        raise RuntimeError("test failed")
    assert fake.files["/srv/k.yaml"] == CUSTOM_CONFIG
    assert len(started_with) == 2


def test_stopped_kubelet_is_started_again_even_when_the_body_fails() -> None:
    node, container, fake = kubelet_node(
        ["/usr/bin/kubelet", "--config=/srv/k.yaml"], {"/srv/k.yaml": CUSTOM_CONFIG}
    )

    def reply(argv: list[str]) -> Reply:
        if argv[:3] == ["systemctl", "--no-block", "stop"]:
            fake.pid = 0
        elif argv[:3] == ["systemctl", "--no-block", "start"]:
            fake.pid = 4300
        else:
            return fake.reply(argv)
        return 0, b"", b""

    container.reply = reply
    with pytest.raises(RuntimeError), node.kubelet.stopped():
        assert node.kubelet.pid() is None
        raise RuntimeError("test failed")
    assert node.kubelet.pid() == 4300


def test_wait_for_log_returns_the_first_line_with_every_fragment() -> None:
    since = datetime(2026, 11, 27, tzinfo=UTC)
    journal = journal_output(
        (since.timestamp() + 1, 'E1127 "Could not process manifest file" path="/m/a.yaml"'),
        (since.timestamp() + 2, 'E1127 "Could not" path="/m/b.yaml"'),
    )
    node, _ = node_with(lambda argv: (0, journal, b""))
    assert (
        node.kubelet.wait_for_log(since, "Could not", "/m/b.yaml", timeout=0)
        == '2026-11-27T00:00:02.000000+00:00 kubelet[77]: E1127 "Could not" path="/m/b.yaml"'
    )
    with pytest.raises(WaitTimeout, match=r"a kubelet log line on kind-worker containing \['/m/c.yaml'\]"):
        node.kubelet.wait_for_log(since, "/m/c.yaml", timeout=0)


def test_log_times_are_journald_receive_times_of_matching_lines_from_since_on() -> None:
    entries = [
        {"__REALTIME_TIMESTAMP": "1795801214132614", "MESSAGE": '"Creating a mirror pod" pod="default/a"'},
        {"__REALTIME_TIMESTAMP": "1795801215000001", "MESSAGE": '"Creating a mirror pod" pod="default/b"'},
        {"__REALTIME_TIMESTAMP": "1795801216500000", "MESSAGE": '"Creating a mirror pod" pod="default/a"'},
        {"__REALTIME_TIMESTAMP": "1795801216600000", "MESSAGE": [1, 2]},  # journald's form of non-UTF-8
    ]
    output = "".join(json.dumps(entry) + "\n" for entry in entries).encode()
    node, container = node_with(lambda argv: (0, output, b""))
    since = datetime.fromtimestamp(1795801214.5, UTC)

    times = node.kubelet.log_times(since, "Creating a mirror pod", 'pod="default/a"')

    assert times == [datetime.fromtimestamp(1795801216.5, UTC)]  # the earlier line is before `since`
    assert container.commands()[0][4] == "@1795801214"
