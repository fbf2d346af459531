"""The run reports itself: what it will make before the tests run, what came out at the end.

After collection (only when tests use the plugin's clusters): Kubernetes, kind, the node image
and the clusters the run will make, from the options and the collected tests' kind configs; no
cluster or registry is asked. At the end (on the xdist controller, once): the claims' verdicts
counted from claims.json, where claims.md, junit.xml and the failed tests' diagnostics are, and how
to run the failed tests again on a kept cluster. The same summary goes to $GITHUB_STEP_SUMMARY,
which GitHub Actions shows on the run's page.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from harness.paths import DIAGNOSTICS, diagnostics_dir
from harness.plugin.options import KEEP_CLUSTER, KIND_CONFIG, REUSE_CLUSTER, Settings
from harness.reports.claims import VERDICTS
from harness.versions import KIND_VERSION

NAME = "static-pod-harness"
# A claim's verdict when a test behind it did not pass, and when no test backs it.
OTHER_VERDICTS = ("inconclusive", "not tested")


def planned(settings: Settings, configs: dict[str, Path]) -> list[str]:
    """Lines for pytest's header: versions, and each cluster with the number of tests on it."""
    tests = Counter(path.stem for path in configs.values())
    if settings.reuse_cluster:
        clusters = f"{settings.reuse_cluster} (reused, never deleted; tests: {sum(tests.values())})"
    else:
        made = ", ".join(f"{settings.cluster_name}-{stem} (tests: {count})" for stem, count in tests.items())
        end = (
            "kept at the end"
            if settings.keep_cluster
            else f"deleted at the end ({KEEP_CLUSTER.flag} keeps them)"
        )
        clusters = f"{made}; {end}"
    return [
        f"{NAME}: Kubernetes {settings.k8s_version}, kind {KIND_VERSION} ({settings.kind_bin}), "
        f"node image {settings.node_image}",
        f"{NAME}: clusters: {clusters}",
        f"{NAME}: artifacts: {settings.artifacts_dir}",
    ]


def ended(
    artifacts: Path, junit: str | None, failed: dict[str, dict[str, object]], own_config: str, kept: bool
) -> list[tuple[str, str]]:
    """The end of a run as (what, where or how) pairs, from the artifacts it wrote. `failed` holds each
    test that failed or errored, with its properties: a test on a cluster names it and its kind config."""
    lines: list[tuple[str, str]] = []
    claims = artifacts / "claims.json"
    if claims.is_file():
        verdicts = Counter(row["verdict"] for row in json.loads(claims.read_text())["claims"])
        counted = [f"{verdicts[v]} {v}" for v in (*VERDICTS, *OTHER_VERDICTS) if verdicts[v]]
        lines.append(("claims", ", ".join(counted) or "none"))
        lines.append(("claims.md", _shown(artifacts / "claims.md")))
    if junit:
        lines.append(("junit.xml", _shown(Path(junit))))
    written = [nodeid for nodeid in failed if diagnostics_dir(artifacts, nodeid).is_dir()]
    if written:
        lines.append((f"diagnostics of {len(written)} failed tests", _shown(artifacts / DIAGNOSTICS) + "/"))
    clusters = {str(p["cluster"]): str(p["kind_config"]) for p in failed.values() if "cluster" in p}
    for cluster, config in sorted(clusters.items()):
        again = f"pytest --lf {REUSE_CLUSTER.flag}={cluster}"
        if config != own_config:  # a reused cluster runs only the tests of --sph-kind-config
            again += f" {KIND_CONFIG.flag}={config}"
        how = again if kept else f"run with {KEEP_CLUSTER.flag} (make e2e KEEP_CLUSTER=1), then {again}"
        lines.append((f"rerun the failed tests of {config}", how))
    return lines


def _shown(path: Path) -> str:
    """A path relative to the working directory when it is under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def write(terminal: pytest.TerminalReporter, lines: list[tuple[str, str]]) -> None:
    """On the terminal, and appended to $GITHUB_STEP_SUMMARY when it is set."""
    terminal.write_sep("=", NAME)
    for what, where in lines:
        terminal.write_line(f"{what}: {where}")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a") as out:
            out.write(f"### {NAME}\n\n" + "".join(f"- {what}: `{where}`\n" for what, where in lines) + "\n")
