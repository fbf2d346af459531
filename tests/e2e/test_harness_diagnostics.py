"""The harness itself: a failing static-pod test leaves a diagnostics bundle behind.

A deliberately failing test runs in a child pytest against this session's cluster
(--sph-reuse-cluster); the bundle it writes is checked here, file by file.
"""

import textwrap

import pytest

from harness.plugin.options import TIMEOUT_SCALE, option_value

pytestmark = pytest.mark.harness

FAILING_TEST = textwrap.dedent("""
    def test_fails_on_purpose(static_pods):
        pod = static_pods.place(static_pods.manifest())
        pod.wait_for_running_mirror()
        assert pod.mirror().metadata.name == "something-else", "deliberate failure"
""")


def test_a_failing_test_writes_the_diagnostics_bundle(
    pytester, pytestconfig, kind_cluster_ready, static_pod_settings
):
    """docs/running.md (diagnostics): the failure bundle (journal, crictl, manifests, mirror, events)."""
    pytester.makepyfile(test_fails=FAILING_TEST)
    artifacts = pytester.path / "artifacts"

    result = pytester.runpytest_subprocess(
        f"--sph-reuse-cluster={kind_cluster_ready.name}",
        f"--sph-kind-bin={static_pod_settings.kind_bin}",
        f"--sph-timeout-scale={option_value(pytestconfig, TIMEOUT_SCALE)}",
        f"--sph-artifacts-dir={artifacts}",
        "-p",
        "no:cacheprovider",
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*diagnostics written to*"])
    bundle = next((artifacts / "diagnostics").glob("test_fails.py_test_fails_on_purpose"))
    names = {p.name for p in bundle.iterdir()}
    node = (kind_cluster_ready.workers or [kind_cluster_ready.control_plane])[
        0
    ].name  # where StaticPods places by default
    assert {
        f"{node}-kubelet.log",
        f"{node}-crictl.txt",
        f"{node}-manifests.txt",
        "events-default.txt",
    } <= names
    assert any(n.startswith("mirror-") for n in names)
    assert "kubelet" in (bundle / f"{node}-kubelet.log").read_text()
