"""The private APIs of other projects the harness uses, each with the shape it relies on.

pyproject.toml bounds these dependencies below their next untested release; a release inside the
bounds (or a raised bound) that changes one of them fails here with its name, not somewhere deep in
an e2e run. docs/dependencies.md lists them.
"""

from __future__ import annotations

import inspect
import socket
import struct
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import docker
import execnet
import pytest
from _pytest.junitxml import xml_key
from xdist.scheduler import LoadScopeScheduling

from harness.node import transport
from harness.plugin.parallel import KindConfigScheduling


def test_pytest_junitxml_writer_is_in_the_stash_under_xml_key_and_takes_global_properties(
    pytester: pytest.Pytester,
) -> None:
    """harness/plugin/results.py: config.stash.get(xml_key) is junit.xml's writer (absent without
    --junitxml), and its add_global_property writes a property of the test suite."""
    pytester.makeconftest(
        """
        from _pytest.junitxml import xml_key

        def pytest_collection_finish(session):
            xml = session.config.stash.get(xml_key, None)
            if xml is not None:
                xml.add_global_property("kind", "v0.0.0")
            print("junit writer:", xml is not None)
        """
    )
    pytester.makepyfile("def test_one(): pass")
    with_junit = pytester.runpytest("-p", "no:cacheprovider", "-s", "--junitxml=junit.xml")
    with_junit.assert_outcomes(passed=1)
    with_junit.stdout.fnmatch_lines(["junit writer: True"])
    properties = ET.parse(pytester.path / "junit.xml").getroot().iter("property")
    assert [(p.get("name"), p.get("value")) for p in properties] == [("kind", "v0.0.0")]
    pytester.runpytest("-p", "no:cacheprovider", "-s").stdout.fnmatch_lines(["junit writer: False"])
    assert isinstance(xml_key, pytest.StashKey)


class FakeWorker:
    """What LoadScopeScheduling needs of an xdist worker: it records the batches it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.batches: list[list[int]] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.batches.append(list(indices))

    def shutdown(self) -> None:
        pass


def test_xdist_scope_scheduling_groups_tests_by_what_split_scope_returns(pytester: pytest.Pytester) -> None:
    """harness/plugin/parallel.py: KindConfigScheduling overrides LoadScopeScheduling._split_scope(nodeid),
    and the scheduler sends each scope's tests to one worker together."""
    base = inspect.signature(LoadScopeScheduling._split_scope)
    assert list(base.parameters) == ["self", "nodeid"]
    assert KindConfigScheduling._split_scope is not LoadScopeScheduling._split_scope

    groups = {"t.py::a": "single-node", "t.py::c": "single-node"}

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return groups.get(nodeid, nodeid)

    scheduler = ByGroup(pytester.parseconfig("--tx", "2*popen"))  # what -n 2 becomes
    workers = [FakeWorker("gw0"), FakeWorker("gw1")]
    tests = ["t.py::a", "t.py::b", "t.py::c", "t.py::d"]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, tests)
    scheduler.schedule()
    sent = [sorted(tests[i] for i in batch) for worker in workers for batch in worker.batches]
    assert ["t.py::a", "t.py::c"] in sent
    assert sorted(test for batch in sent for test in batch) == tests


def test_execnet_gateway_rinfo_gives_the_workers_pid() -> None:
    """harness/plugin/parallel.py: node.gateway._rinfo().pid is the pid of the worker's process."""
    gateway = execnet.makegateway("popen")
    try:
        pid = gateway.remote_exec("import os; channel.send(os.getpid())").receive(timeout=30)
        assert gateway._rinfo().pid == pid
    finally:
        gateway.exit()


def serve_one_exec_start(listener: socket.socket, frames: bytes) -> None:
    """A Docker daemon's answer to one exec start: the headers of a raw stream, then, once the gate
    line arrives on the stream, `frames`, then the end of the stream."""
    connection, _ = listener.accept()
    connection.settimeout(10)
    with connection, connection.makefile("rb") as stream:
        headers = [line.strip().lower() for line in iter(stream.readline, b"\r\n")]
        length = next(int(h.split(b":")[1]) for h in headers if h.startswith(b"content-length:"))
        stream.read(length)  # the request's JSON body
        connection.sendall(
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        )
        assert stream.read(1) == b"\n"
        connection.sendall(frames)


def test_docker_py_exec_socket_has_its_socket_and_response_and_reads_as_frames(tmp_path: Path) -> None:
    """harness/node/transport.py: exec_start(socket=True) on a unix socket hands back a connection
    whose `_sock` takes the gate line and from which the transport's own reader reads stdout and
    stderr, and whose `_response` closes it."""
    path = tmp_path / "docker.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    frames = struct.pack(">BxxxL", 1, 3) + b"out" + struct.pack(">BxxxL", 2, 3) + b"err"
    daemon = threading.Thread(target=serve_one_exec_start, args=(listener, frames))
    daemon.start()
    try:
        client = docker.APIClient(base_url=f"unix://{path}", version="1.44", timeout=10)
        connection = client.exec_start("exec-id", socket=True)
        assert isinstance(connection._sock, socket.socket)
        assert transport._open_gate_and_read(connection, limit=10) == (b"out", b"err")
        connection._response.close()
        assert connection.closed
    finally:
        daemon.join(timeout=10)
        listener.close()
    assert not daemon.is_alive()
