"""The harness itself: an interrupted run leaves no cluster, container or network behind.

A child pytest makes a cluster of its own (from this session's node image) and blocks. It gets
SIGINT, as from Ctrl-C: while its cluster is being created, while its test runs, while a
fixture tears down, or twice in a row (the second one while the first is still cleaning up).
Or, run in parallel (-n 1: a controller and one xdist worker), SIGTERM to the controller alone, as
a CI time-out sends it: the worker's cluster must go too. Each time the child must delete its
cluster (and its node containers) before exiting.
"""

import signal
import sys
import textwrap

import pytest

from harness.cluster.cluster import KIND_CLUSTER_LABEL
from harness.cluster.kind import Kind
from harness.plugin.options import TIMEOUT_SCALE, option_value
from harness.staticpods.manifest import unique_name
from harness.waiting import poll_until, scaled

pytestmark = pytest.mark.harness

BLOCKING_TESTS = textwrap.dedent("""
    import pathlib, threading
    import pytest

    @pytest.fixture
    def blocks_in_teardown(kind_cluster_ready):
        yield
        pathlib.Path("tearing-down").touch()
        threading.Event().wait(600)

    def test_blocks_until_interrupted(kind_cluster_ready):
        pathlib.Path("testing").touch()
        threading.Event().wait(600)

    def test_blocks_in_teardown(blocks_in_teardown):
        pass
""")
# What the child runs, the file it writes once it blocks where the signal should hit it, the signal,
# and the child's own xdist options (its clusters then carry the worker's id in their names).
SCENARIOS = {
    "creating": ("test_blocks_until_interrupted", None, signal.SIGINT, []),
    "testing": ("test_blocks_until_interrupted", "testing", signal.SIGINT, []),
    "tearing-down": ("test_blocks_in_teardown", "tearing-down", signal.SIGINT, []),
    "twice": ("test_blocks_until_interrupted", "testing", signal.SIGINT, []),
    "parallel-sigterm": ("test_blocks_until_interrupted", "testing", signal.SIGTERM, ["-n", "1"]),
}
CLUSTER_UP_TIMEOUT = 300
EXIT_TIMEOUT = 60


@pytest.mark.parametrize("when", SCENARIOS)
def test_ctrl_c_deletes_the_cluster_first(
    pytester, pytestconfig, kind_cluster_ready, static_pod_settings, when
):
    """docs/interrupts.md: Ctrl-C or SIGTERM deletes the run's clusters before anything else."""
    pytester.makepyfile(test_blocking=BLOCKING_TESTS)
    (test, blocked, signum, xdist), name = SCENARIOS[when], unique_name("interrupted")
    stderr = pytester.path / "stderr.txt"
    child = pytester.popen(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--sph-cluster-name={name}",
            f"--sph-node-image={kind_cluster_ready.image}",
            f"--sph-k8s-version={static_pod_settings.k8s_version}",
            f"--sph-kind-bin={static_pod_settings.kind_bin}",
            f"--sph-timeout-scale={option_value(pytestconfig, TIMEOUT_SCALE)}",
            "-p",
            "no:cacheprovider",
            "-s",  # the child's progress lines reach stderr.txt as they are written
            "-k",
            test,
            *xdist,
        ],
        stderr=stderr.open("w"),
    )
    cluster = f"{name}-gw0-single-node" if xdist else f"{name}-single-node"
    nodes = {"label": f"{KIND_CLUSTER_LABEL}={cluster}"}
    try:
        if blocked is None:
            poll_until(
                lambda: kind_cluster_ready.docker.containers.list(filters=nodes),
                timeout=CLUSTER_UP_TIMEOUT,
                interval=0.2,
                expected=f"the child run creating its cluster {cluster}",
            )
        else:
            poll_until(
                lambda: (pytester.path / blocked).exists(),
                timeout=CLUSTER_UP_TIMEOUT,
                expected=f"the child run's cluster {cluster} up and the child {blocked}",
            )

        child.send_signal(signum)
        if when == "twice":  # the second Ctrl-C of an impatient user, while the first one's deletion runs
            poll_until(
                lambda: "[cluster] deleting" in stderr.read_text(),
                timeout=EXIT_TIMEOUT,
                interval=0.1,
                expected=f"the child deleting {cluster} after the first SIGINT",
            )
            child.send_signal(signal.SIGINT)
        child.wait(timeout=scaled(EXIT_TIMEOUT))
    finally:
        child.kill()
        kind = Kind(static_pod_settings.kind_bin)
        left = [c for c in kind.clusters() if c.startswith(name)]
        for leftover in left:  # the finding is the assertion below; the machine is cleaned up all the same
            kind.handle(leftover, pytester.path / "kubeconfig", None).delete()

    assert not left, f"clusters {left} were left behind"
    assert not kind_cluster_ready.docker.containers.list(all=True, filters=nodes)
