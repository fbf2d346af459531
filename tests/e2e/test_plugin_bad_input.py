"""Bad input that needs Docker and kind to be seen: a child pytest stops with one line that says what
to do, exits non-zero and leaves no cluster or node container behind. (Bad input that needs
neither is tested in tests/unit/test_plugin.py.)"""

import re
import sys

import pytest

from harness.cluster.cluster import KIND_CLUSTER_LABEL
from harness.cluster.kind import Kind
from harness.dockerclient import docker_client
from harness.staticpods.manifest import unique_name

pytestmark = pytest.mark.harness

USES_A_CLUSTER = "def test_on_a_cluster(kind_cluster_ready): pass\n"


@pytest.mark.parametrize(
    "option, message",
    [
        (
            "--sph-reuse-cluster=no-such-cluster",
            r"no cluster: single-node: --reuse-cluster no-such-cluster: no such kind cluster "
            r"\(`kind get clusters` lists them\)$",
        ),
        (
            "--sph-node-image=static-pod-harness/no-such-node:v0.0.0",
            # Where a registry answers, the reference is trusted and kind's pull fails instead.
            r"no cluster: single-node: (node image: node image static-pod-harness/no-such-node:v0.0.0 is "
            r"not on this machine and no registry answers: .+|kind create cluster \S+ failed .+)",
        ),
    ],
)
def test_bad_cluster_input_is_one_line_and_leaves_nothing(pytester, static_pod_settings, option, message):
    pytester.makepyfile(test_cluster=USES_A_CLUSTER)
    name = unique_name("bad-input")
    kind = Kind(static_pod_settings.kind_bin)
    result = pytester.run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
        f"--sph-cluster-name={name}", f"--sph-kind-bin={kind.binary}", option,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (line,) = [line for line in result.stdout.lines if line.startswith("no cluster: ")]
    assert re.fullmatch(message, line), line
    assert "During handling" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    # The child names every cluster it could make <name>-<config>; other clusters come and go meanwhile
    # (parallel workers make and delete theirs).
    assert not [cluster for cluster in kind.clusters() if cluster.startswith(name)]
    assert not docker_client().containers.list(
        all=True, filters={"label": f"{KIND_CLUSTER_LABEL}={name}-single-node"}
    )
