"""The harness itself: an interrupted run leaves no cluster, container or network behind.

A child pytest makes a cluster of its own (from this session's node image) and blocks in a
test. It gets SIGINT, as from Ctrl-C: while its cluster is being created, while its test
runs, or twice in a row (the second one while the first is still cleaning up). Each time it
must delete its cluster before exiting.
"""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness.cluster.cluster import KIND_CLUSTER_LABEL
from harness.cluster.kind import Kind
from harness.staticpods.manifest import unique_name
from harness.waiting import poll_until, scaled

BLOCKING_TEST = textwrap.dedent("""
    import pathlib, threading

    def test_blocks_until_interrupted(cluster):
        pathlib.Path("running").write_text(cluster.name)
        threading.Event().wait(600)
""")
CLUSTER_UP_TIMEOUT = 300
EXIT_TIMEOUT = 60


@pytest.mark.parametrize("when", ["creating", "testing", "twice"])
def test_ctrl_c_deletes_the_cluster_first(pytester, cluster, settings, when):
    """README "Interrupts": Ctrl-C or SIGTERM deletes the run's clusters before anything else."""
    pytester.makepyfile(test_blocking=BLOCKING_TEST)
    name = unique_name("interrupted")
    child = pytester.popen(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--cluster-name={name}",
            f"--node-image={cluster.image}",
            f"--k8s-version={settings.k8s_version}",
            f"--kind-bin={settings.kind_bin}",
            "-p",
            "no:cacheprovider",
        ],
    )
    nodes = {"label": f"{KIND_CLUSTER_LABEL}={name}-single-node"}
    try:
        if when == "creating":
            poll_until(
                lambda: cluster.docker.containers.list(filters=nodes),
                timeout=CLUSTER_UP_TIMEOUT,
                interval=0.2,
                expected=f"the child run creating its cluster {name}-single-node",
            )
        else:
            poll_until(
                lambda: (pytester.path / "running").exists(),
                timeout=CLUSTER_UP_TIMEOUT,
                expected=f"the child run's cluster {name}-single-node up and its test running",
            )

        child.send_signal(signal.SIGINT)
        if when == "twice":
            time.sleep(0.5)  # the second Ctrl-C of an impatient user, while the first cleans up
            child.send_signal(signal.SIGINT)
        child.wait(timeout=scaled(EXIT_TIMEOUT))
    finally:
        child.kill()
        left = [c for c in Kind(settings.kind_bin).clusters() if c.startswith(name)]
        for leftover in left:  # the finding is the assertion below; the machine is cleaned up all the same
            subprocess.run([str(settings.kind_bin), "delete", "cluster", "--name", leftover], check=False)

    assert not left, f"clusters {left} were left behind"
    assert not cluster.docker.containers.list(all=True, filters=nodes)
