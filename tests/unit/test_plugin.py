"""Option handling and collection order of the pytest plugin (no cluster is made here).

Options are checked only when a collected test uses the plugin's cluster fixtures, so the inner
runs here collect such tests (--collect-only: nothing runs, nothing is provisioned)."""

from types import SimpleNamespace

import pytest

from harness.paths import CACHE_ENV, cache_dir
from harness.plugin import _pin_cache_dir

USES_A_CLUSTER = """
def test_on_a_cluster(kind_cluster_ready): pass
"""
ORDERED = """
import pytest

@pytest.mark.disruptive
def test_restarts_kubelet(kind_cluster_ready): pass

@pytest.mark.kind_config("multi-node")
def test_on_workers(static_pods): pass

def test_unrelated(): pass

def test_plain(kind_cluster_ready): pass

@pytest.mark.kind_config("single-node")
def test_on_default_config_by_name(test_namespaces): pass
"""
HEADER = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"


def usage_error(result: pytest.RunResult) -> str:
    """The run ended with a usage error of one line, and no traceback or INTERNALERROR."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("ERROR: "), result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    return errors[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--sph-k8s-version=1.2.3"],
            "K8S_VERSION=1.2.3 is not supported with kind v0.33.0: use 1.30.x to 1.37.x",
        ),
        (["--sph-k8s-version=latest"], "is not a Kubernetes release such as 1.37.2 (major.minor.patch"),
        (
            ["--sph-kind-config=no-such-config"],
            "kind config no-such-config does not exist: give a path, or one of",
        ),
        (["--sph-timeout-scale=0"], "--sph-timeout-scale must be a positive number, not 0.0"),
    ],
)
def test_bad_options_stop_the_run_with_one_line(pytester, kind_bin, args, message):
    pytester.makepyfile(test_cluster=USES_A_CLUSTER)
    line = usage_error(pytester.runpytest_inprocess("--collect-only", kind_bin, *args))
    assert message in line


def test_a_kind_config_that_does_not_parse_stops_the_run(pytester, kind_bin):
    pytester.makepyfile(test_cluster=USES_A_CLUSTER)
    bad = pytester.makefile(".yaml", bad=HEADER + "nodes: [\n")
    line = usage_error(pytester.runpytest_inprocess("--collect-only", kind_bin, f"--sph-kind-config={bad}"))
    assert line.startswith("ERROR: kind config ") and "bad.yaml does not parse at line 3, column 9" in line


def test_a_kind_config_without_a_control_plane_stops_the_run(pytester, kind_bin):
    pytester.makepyfile(test_cluster=USES_A_CLUSTER)
    workers = pytester.makefile(".yaml", workers=HEADER + "nodes:\n  - role: worker\n")
    line = usage_error(
        pytester.runpytest_inprocess("--collect-only", kind_bin, f"--sph-kind-config={workers}")
    )
    assert "workers.yaml has no control-plane node: add `- role: control-plane` under nodes" in line


def test_a_kind_config_marker_naming_no_config_stops_the_run(pytester, kind_bin):
    pytester.makepyfile(
        test_cluster="import pytest\n@pytest.mark.kind_config('tiny')\ndef test_x(kind_cluster_ready): pass\n"
    )
    line = usage_error(pytester.runpytest_inprocess("--collect-only", kind_bin))
    assert line.startswith("ERROR: test_cluster.py::test_x: kind config tiny does not exist")


def test_a_missing_kind_binary_stops_the_run(pytester, tmp_path):
    pytester.makepyfile(test_cluster=USES_A_CLUSTER)
    line = usage_error(pytester.runpytest_inprocess("--collect-only", f"--sph-kind-bin={tmp_path}/none/kind"))
    assert line == (
        f"ERROR: no kind binary at {tmp_path}/none/kind: pass --kind-bin PATH, put kind on PATH, "
        "or run `make host-setup` in a checkout of static-pod-harness"
    )


def test_an_artifacts_directory_that_is_not_writable_stops_the_run(pytester, kind_bin):
    pytester.makepyfile(test_cluster=USES_A_CLUSTER)
    blocker = pytester.makefile(".txt", blocker="a file, not a directory")
    line = usage_error(
        pytester.runpytest_inprocess("--collect-only", kind_bin, f"--sph-artifacts-dir={blocker}/artifacts")
    )
    assert line == (
        f"ERROR: artifacts directory {blocker}/artifacts is not writable (Not a directory): "
        "pass --sph-artifacts-dir DIR (or set ARTIFACTS) to a writable directory"
    )


def test_a_bad_claim_marker_is_one_usage_error_not_an_internal_error(pytester):
    pytester.makepyfile(
        test_claims="import pytest\n@pytest.mark.claim('S99', 'confirmed')\ndef test_x(): pass\n"
    )
    line = usage_error(pytester.runpytest_subprocess("-p", "no:cacheprovider"))
    assert "test_claims.py::test_x: bad claim marker claim('S99', 'confirmed'): unknown claim 'S99'" in line


def test_markers_are_registered_by_the_plugin_for_strict_markers(pytester, kind_bin):
    pytester.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.kind_config("multi-node")
        @pytest.mark.claim("S1", "confirmed")
        @pytest.mark.disruptive
        @pytest.mark.slow
        def test_x(kind_cluster_ready): pass
        """
    )
    result = pytester.runpytest_subprocess("--strict-markers", "--collect-only", "-q", kind_bin)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()


def test_without_pytest_kind_its_options_still_work(pytester, kind_bin):
    pytester.makepyfile(test_cluster=USES_A_CLUSTER)
    result = pytester.runpytest_subprocess(
        "-p", "no:pytest-kind", "--collect-only", "-q", kind_bin, "--cluster-name=mine", "--keep-cluster"
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(["test_cluster.py::test_on_a_cluster"])


def test_cluster_tests_run_grouped_by_kind_config_disruptive_last_others_stay_in_place(pytester, kind_bin):
    pytester.makepyfile(test_order=ORDERED)
    result = pytester.runpytest_inprocess("--collect-only", "-q", kind_bin)
    assert result.outlines[:5] == [
        "test_order.py::test_plain",
        "test_order.py::test_on_default_config_by_name",
        "test_order.py::test_unrelated",
        "test_order.py::test_restarts_kubelet",
        "test_order.py::test_on_workers",
    ]


def test_reusing_a_cluster_deselects_tests_that_need_another_config(pytester, kind_bin):
    pytester.makepyfile(test_order=ORDERED)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "--sph-reuse-cluster=mine", kind_bin)
    result.stdout.fnmatch_lines(["*4/5 tests collected (1 deselected)*"])


def test_the_cache_stays_where_the_run_began_when_a_test_moves_home(monkeypatch, tmp_path) -> None:
    """pytester's fixture moves HOME: a cluster recorded before must be forgotten in the same place."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "before"))
    cleanups: list = []

    _pin_cache_dir(SimpleNamespace(add_cleanup=cleanups.append))  # type: ignore[arg-type]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "moved"))

    assert cache_dir() == tmp_path / "before" / "static-pod-harness"
    for undo in cleanups:
        undo()
    assert cache_dir() == tmp_path / "moved" / "static-pod-harness"
