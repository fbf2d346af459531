"""The harness itself: Ctrl-C in the middle of a run leaves no cluster behind.

A child pytest makes a cluster of its own (from this session's node image) and blocks in a
test; once that test runs, the child gets SIGINT, as from Ctrl-C, and must delete its
cluster on the way out.
"""

import signal
import subprocess
import sys
import textwrap

from harness.cluster.lifecycle import existing_clusters
from harness.staticpod import unique_name
from harness.waiting import poll_until

BLOCKING_TEST = textwrap.dedent("""
    import pathlib, threading

    def test_blocks_until_interrupted(cluster):
        pathlib.Path("running").write_text(cluster.name)
        threading.Event().wait(600)
""")


def test_ctrl_c_during_a_run_deletes_the_cluster(pytester, cluster, settings):
    """README "Cluster lifecycle": deleted also on Ctrl-C or SIGTERM; nothing is left behind."""
    pytester.makepyfile(test_blocking=BLOCKING_TEST)
    name = unique_name("interrupted")
    image = cluster.control_plane.container.image.tags[0]
    child = pytester.popen(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--cluster-name={name}",
            f"--node-image={image}",
            f"--k8s-version={settings.k8s_version}",
            f"--kind-bin={settings.kind_bin}",
            "-p",
            "no:cacheprovider",
        ],
    )
    try:
        poll_until(
            lambda: (pytester.path / "running").exists(),
            timeout=settings.timeout(300),
            expected=f"the child run's cluster {name} up and its test running",
        )

        child.send_signal(signal.SIGINT)
        child.wait(timeout=settings.timeout(120))
    finally:
        child.kill()
        left = name in existing_clusters(settings.kind_bin)
        if left:  # the finding is the assertion below; the machine is cleaned up all the same
            subprocess.run([str(settings.kind_bin), "delete", "cluster", "--name", name], check=False)

    assert not left, f"cluster {name} was left behind"
    assert not cluster.docker.containers.list(all=True, filters={"label": f"io.x-k8s.kind.cluster={name}"})
