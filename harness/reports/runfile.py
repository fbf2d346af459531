"""run.json: what one run was, the file that makes its directory a result directory.

Written here only (by the plugin at the end of a run, and by the conformance runner for a
version that produced no results); read by harness.reports.conformance.load.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.versions import KIND_VERSION


def write_run(
    directory: Path,
    *,
    requested: str,
    status: str,  # "ran" or "failed: <why>"
    partial: bool,
    seconds: float,
    kubernetes: list[str] | None = None,  # the API servers' own versions
    kubelets: list[str] | None = None,
    node_image: str = "",
) -> None:
    run = {
        "requested": requested,
        "kubernetes": kubernetes or [],
        "kubelets": kubelets or [],
        "kind": KIND_VERSION,
        "node_image": node_image,
        "status": status,
        "partial": partial,
        "seconds": round(seconds, 1),
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "run.json").write_text(json.dumps(run, indent=2) + "\n")
