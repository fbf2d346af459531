"""Verdicts on the seed article's claims (S1..S21), from the tests that ran.

A test declares what it proves about a claim with a marker:

    @pytest.mark.claim("S14", "confirmed")
    @pytest.mark.claim("S8", "refuted", "the API server rejects the change; nothing is reverted")

When the test passes, its verdict counts; when it fails or is skipped, it counts for
nothing (the claim is "not tested" unless another test backs it). A claim whose passing
tests all confirm it is confirmed, all refute it is refuted, and a mix is "partly".
A refuted claim is a finding about the article, not a test failure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.versions import KubeVersion

VERDICTS = ("confirmed", "refuted", "partly")

# The article's claims, restated briefly (full text: shared/docs/seed-claims.md).
CLAIMS: dict[str, str] = {
    "S1": "The kubelet manages a static pod from a local directory, by default /etc/kubernetes/manifests.",
    "S2": "The directory is set by --pod-manifest-path (deprecated) or staticPodPath; may be a single file.",
    "S3": "The kubelet watches the directory and creates, updates and deletes pods from its files.",
    "S4": "Static pods are not scheduled through the API server.",
    "S5": "Static pods run while the API server is down; that is how the control plane bootstraps.",
    "S6": "The kubelet creates a read-only mirror pod in the API server for each static pod.",
    "S7": "The mirror carries config.source=file, config.hash and config.mirror annotations.",
    "S8": "When the API side updates a mirror pod, the kubelet immediately changes it back.",
    "S9": "After a kubelet restart the kubelet reloads static pods and recovers the containers.",
    "S10": "Files whose names start with a dot are ignored.",
    "S11": "A manifest is a Pod YAML; apiVersion and kind may be omitted.",
    "S12": "Editing the file makes the kubelet restart the pod.",
    "S13": "Removing the file terminates the pod and deletes the mirror pod.",
    "S14": "kubectl delete/edit of a mirror pod is undone: the kubelet recreates it.",
    "S15": "The directory must be readable by the kubelet (usually root:root, mode 644).",
    "S16": "A manifest with a YAML syntax error is ignored or reported as an error.",
    "S17": "The mirror pod is named <pod name>-<node name>.",
    "S18": "The sandbox shows in `crictl pods` on the node; the mirror in `kubectl get pods`.",
    "S19": "A DaemonSet is managed through the API server; a static pod needs none.",
    "S20": "The kubelet log (SyncLoop entries) is where to look when mirror and pod disagree.",
    "S21": "No mirror pod: check the kubelet's manifest path setting and that the kubelet runs.",
}


@dataclass
class Evidence:
    test: str
    verdict: str  # confirmed / refuted / partly, as the test's marker says
    outcome: str  # passed / failed / skipped
    note: str = ""


@dataclass
class ClaimsReport:
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)

    @property
    def has_claims(self) -> bool:
        return bool(self.evidence)

    def record(self, item: pytest.Item, report: pytest.TestReport) -> None:
        for marker in item.iter_markers("claim"):
            claim, verdict, *note = marker.args
            if claim not in CLAIMS or verdict not in VERDICTS:
                raise pytest.UsageError(f"{item.nodeid}: bad claim marker {marker.args}")
            self.evidence.setdefault(claim, []).append(
                Evidence(item.nodeid, verdict, report.outcome, note[0] if note else "")
            )

    def verdict(self, claim: str) -> str:
        passed = {e.verdict for e in self.evidence.get(claim, []) if e.outcome == "passed"}
        if not passed:
            return "not tested"
        return passed.pop() if len(passed) == 1 else "partly"

    def rows(self, version: KubeVersion) -> list[dict[str, object]]:
        rows = []
        for claim, text in CLAIMS.items():
            evidence = self.evidence.get(claim, [])
            rows.append(
                {
                    "claim": claim,
                    "text": text,
                    "verdict": self.verdict(claim),
                    "kubernetes": str(version),
                    "tests": [{"test": e.test, "verdict": e.verdict, "outcome": e.outcome} for e in evidence],
                    # Parametrized tests repeat their marker's note: each note once, in order.
                    "evidence": " ".join(
                        dict.fromkeys(e.note for e in evidence if e.note and e.outcome == "passed")
                    ),
                }
            )
        return rows

    def write(self, directory: Path, version: KubeVersion) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        rows = self.rows(version)
        (directory / "claims.json").write_text(json.dumps(rows, indent=2))
        lines = [
            f"# Seed-article claims on Kubernetes {version}",
            "",
            "| claim | verdict | evidence | tests |",
            "|---|---|---|---|",
        ]
        for row in rows:
            tests = "<br>".join(f"`{t['test'].split('::')[-1]}` ({t['outcome']})" for t in row["tests"])
            lines.append(
                f"| {row['claim']}: {row['text']} | **{row['verdict']}** | {row['evidence']} | {tests} |"
            )
        (directory / "claims.md").write_text("\n".join(lines) + "\n")
