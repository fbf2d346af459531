"""The harness itself: what a command prints on a node reaches the harness, even when the harness
reads docker's answer late.

docker-py reads an exec's output from the raw socket, past the buffered reader that parsed the
answer's headers, so output that arrived before the headers were read is lost: exit code 0, empty
stdout (docker/docker-py#2042, #3332). A CI run on a busy machine once read a kubelet config that
lacked staticPodPath; an empty read would explain it (not confirmed: the run kept no trace of the
read). Every node command now waits for a line on its stdin that the harness sends only once the
headers are read (harness/node/transport.py, STDIN_GATE).
"""

import http.client
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.waiting import scaled

pytestmark = pytest.mark.harness

# Long enough for a command in the node to start and print (tens of milliseconds) before the
# harness reads the headers: the race, made all but certain.
LATE_READ_SECONDS = 1.0
UNGATED_TRIES = 3


def _late_in_this_thread(begin: Callable[..., Any]) -> Callable[..., Any]:
    """http.client's header parsing, held up in the calling thread only (other threads' requests,
    such as the API client's, go on as before)."""
    thread = threading.get_ident()

    def late_begin(response: http.client.HTTPResponse) -> Any:
        if threading.get_ident() == thread:
            time.sleep(scaled(LATE_READ_SECONDS))
        return begin(response)

    return late_begin


def test_node_command_output_survives_a_late_read_of_dockers_answer(kind_cluster_ready, monkeypatch):
    """docker/docker-py#2042 and #3332 (exec_run loses early output); the stdin gate in transport.py."""
    node = kind_cluster_ready.nodes[0]
    monkeypatch.setattr(
        http.client.HTTPResponse, "begin", _late_in_this_thread(http.client.HTTPResponse.begin)
    )

    ungated = [node.transport.container.exec_run(["cat", "/etc/hostname"]) for _ in range(UNGATED_TRIES)]
    gated = node.run("cat", "/etc/hostname")

    assert (0, b"") in ungated, (
        f"a late header read did not make docker-py's exec_run lose the output in {UNGATED_TRIES} tries "
        f"({ungated}): the node took longer than {scaled(LATE_READ_SECONDS):g}s to print, or docker-py "
        "no longer loses early output (then the stdin gate can go)"
    )
    assert gated.stdout == f"{node.name}\n"
