"""The run reports itself (harness.plugin.summary): what it will make, after collection, and at the
end the claims' verdicts, where the reports are and how to rerun the failed tests on a kept cluster,
on the terminal and in $GITHUB_STEP_SUMMARY. No cluster is made: tests name theirs as
kind_cluster_ready would."""

from __future__ import annotations

from pathlib import Path

import pytest

ON_CLUSTERS = """
import pytest
from harness.paths import diagnostics_dir

def on(request, config):
    request.node.user_properties += [("cluster", f"static-pods-{config}"), ("kind_config", config)]

@pytest.mark.claim("S6", "confirmed")
def test_passes(request):
    on(request, "single-node")

@pytest.mark.claim("S7", "confirmed")
def test_fails(request):
    on(request, "single-node")
    diagnostics_dir(Path("artifacts").resolve(), request.node.nodeid).mkdir(parents=True)
    assert False

def test_fails_on_workers(request):
    on(request, "multi-node")
    assert False
""".replace("import pytest\n", "import pytest\nfrom pathlib import Path\n", 1)
COLLECTED = """
import pytest

def test_a(kind_cluster_ready): pass
def test_b(static_pods): pass

@pytest.mark.kind_config("multi-node")
def test_c(kind_cluster_ready): pass
"""


def ran(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "--junitxml=artifacts/junit.xml", *args)


def test_the_end_counts_verdicts_and_says_where_the_reports_are_and_how_to_rerun(pytester, monkeypatch):
    step_summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    pytester.makepyfile(test_run=ON_CLUSTERS)
    result = ran(pytester)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*= static-pod-harness =*",
            "claims: 1 confirmed, 1 inconclusive, * not tested",
            "claims.md: artifacts/claims.md",
            "junit.xml: artifacts/junit.xml",
            "diagnostics of 1 failed tests: artifacts/diagnostics/",
            "rerun the failed tests of multi-node: run with --sph-keep-cluster (make e2e KEEP_CLUSTER=1), "
            "then pytest --lf --sph-reuse-cluster=static-pods-multi-node --sph-kind-config=multi-node",
            "rerun the failed tests of single-node: run with --sph-keep-cluster (make e2e KEEP_CLUSTER=1), "
            "then pytest --lf --sph-reuse-cluster=static-pods-single-node",
        ]
    )
    written = step_summary.read_text()
    assert "### static-pod-harness\n\n- claims: `1 confirmed, 1 inconclusive," in written
    assert "- diagnostics of 1 failed tests: `artifacts/diagnostics/`\n" in written


def test_with_kept_clusters_the_rerun_is_one_command(pytester):
    pytester.makepyfile(test_run=ON_CLUSTERS)
    ran(pytester, "--sph-keep-cluster").stdout.fnmatch_lines(
        ["rerun the failed tests of single-node: pytest --lf --sph-reuse-cluster=static-pods-single-node"]
    )


def test_a_run_without_claims_or_clusters_has_no_summary(pytester, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "step-summary.md"))
    pytester.makepyfile(test_plain="def test_plain(): pass\n")
    result = ran(pytester)
    assert "= static-pod-harness =" not in result.stdout.str()
    assert not (pytester.path / "step-summary.md").exists()


def test_under_xdist_the_controller_prints_the_summary_once(pytester):
    pytester.makepyfile(test_run=ON_CLUSTERS)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    assert result.stdout.str().count("= static-pod-harness =") == 1, result.stdout.str()
    result.stdout.fnmatch_lines(["claims: 1 confirmed, 1 inconclusive, * not tested"])


def test_after_collection_the_run_says_what_it_will_make(pytester, kind_bin):
    pytester.makepyfile(test_collected=COLLECTED)
    result = pytester.runpytest_inprocess(
        "--collect-only", "-p", "no:cacheprovider", kind_bin, "--sph-node-image=offline"
    )
    result.stdout.fnmatch_lines(
        [
            "static-pod-harness: Kubernetes *, kind v*, node image offline",
            "static-pod-harness: clusters: static-pods-single-node (tests: 2), "
            "static-pods-multi-node (tests: 1); deleted at the end (--sph-keep-cluster keeps them)",
            f"static-pod-harness: artifacts: {Path(pytester.path, 'artifacts')}",
        ]
    )


def test_tests_deselected_by_k_are_not_counted_nor_their_clusters_named(pytester, kind_bin):
    pytester.makepyfile(test_planned=COLLECTED)
    result = pytester.runpytest_inprocess(
        "--collect-only", "-p", "no:cacheprovider", kind_bin, "-k", "test_c"
    )
    result.stdout.fnmatch_lines(
        ["static-pod-harness: clusters: static-pods-multi-node (tests: 1); deleted at the end*"]
    )


def test_a_reused_cluster_is_named_as_never_deleted(pytester, kind_bin):
    pytester.makepyfile(test_collected=COLLECTED)
    result = pytester.runpytest_inprocess(
        "--collect-only", "-p", "no:cacheprovider", kind_bin, "--sph-reuse-cluster=mine"
    )
    result.stdout.fnmatch_lines(["static-pod-harness: clusters: mine (reused, never deleted; tests: 2)"])


def test_another_suite_collected_with_the_plugin_gets_no_lines(pytester):
    pytester.makepyfile(test_plain="def test_plain(): pass\n")
    assert "static-pod-harness:" not in pytester.runpytest_inprocess("--collect-only").stdout.str()


def test_quiet_runs_leave_it_out_as_pytest_leaves_out_its_header(pytester, kind_bin):
    pytester.makepyfile(test_collected=COLLECTED)
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider", kind_bin)
    assert "static-pod-harness:" not in result.stdout.str()
