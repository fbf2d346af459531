"""The harness itself: what a command prints on a node reaches the harness, even when the harness
reads docker's answer late.

docker-py reads an exec's output from the raw socket, past the buffered reader that parsed the
answer's headers, so output that arrived before the headers were read is lost: exit code 0, empty
stdout (docker/docker-py#2042, #3332). A CI run on a busy machine once read a kubelet config that
lacked staticPodPath, which an empty read of it gives. Every node command now waits for a line on
its stdin that the harness sends only once the headers are read (harness/node/transport.py,
STDIN_GATE).
"""

import http.client
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.waiting import scaled

pytestmark = pytest.mark.harness

# Long enough for a command in the node to start and print (tens of milliseconds) before the
# harness reads the headers: the race, made certain.
LATE_READ_SECONDS = 1.0


def _late(begin: Callable[..., Any]) -> Callable[..., Any]:
    def late_begin(response: http.client.HTTPResponse) -> Any:
        time.sleep(scaled(LATE_READ_SECONDS))
        return begin(response)

    return late_begin


def test_node_command_output_survives_a_late_read_of_dockers_answer(kind_cluster_ready, monkeypatch):
    """docker/docker-py#2042 and #3332 (exec_run loses early output); the stdin gate in transport.py."""
    node = kind_cluster_ready.nodes[0]
    monkeypatch.setattr(http.client.HTTPResponse, "begin", _late(http.client.HTTPResponse.begin))

    ungated = node.transport.container.exec_run(["cat", "/etc/hostname"])
    gated = node.run("cat", "/etc/hostname")

    assert ungated == (0, b""), "docker-py no longer loses early exec output: the stdin gate can go"
    assert gated.stdout == f"{node.name}\n"
