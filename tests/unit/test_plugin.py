"""Option handling and collection order of the pytest plugin (no cluster is made here)."""

import pytest

ORDERED = """
import pytest

@pytest.mark.disruptive
def test_restarts_kubelet(): pass

@pytest.mark.kind_config("multi-node")
def test_on_workers(): pass

def test_plain(): pass

@pytest.mark.kind_config("single-node")
def test_on_default_config_by_name(): pass
"""


@pytest.mark.parametrize(
    "args, message",
    [
        (["--k8s-version=1.2.3"], "not supported with kind"),
        (["--k8s-version=latest"], "major.minor.patch"),
        (["--kind-config=no-such-config"], "does not exist"),
        (["--timeout-scale=0"], "must be a positive number"),
    ],
)
def test_bad_options_stop_the_run_with_one_line(pytester, args, message):
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: *{message}*"])


def test_a_kind_config_that_does_not_parse_stops_the_run(pytester):
    bad = pytester.makefile(".yaml", bad="kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes: [\n")
    result = pytester.runpytest_inprocess(f"--kind-config={bad}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: kind config *bad.yaml does not parse at line 3*"])


def test_tests_run_grouped_by_kind_config_with_disruptive_ones_last(pytester):
    pytester.makepyfile(test_order=ORDERED)
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    assert result.outlines[:4] == [
        "test_order.py::test_plain",
        "test_order.py::test_on_default_config_by_name",
        "test_order.py::test_restarts_kubelet",
        "test_order.py::test_on_workers",
    ]


def test_reusing_a_cluster_deselects_tests_that_need_another_config(pytester):
    pytester.makepyfile(test_order=ORDERED)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "--reuse-cluster=mine")
    result.stdout.fnmatch_lines(["*3/4 tests collected (1 deselected)*"])
