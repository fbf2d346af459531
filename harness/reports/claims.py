"""Verdicts on the seed article's claims (S1..S21), from the results of the tests behind them.

A test declares what it proves about a claim with a marker:

    @pytest.mark.claim("S14", "confirmed")
    @pytest.mark.claim("S8", "refuted", "the API server rejects the change; nothing is reverted")

claim_properties() turns the markers into junit user properties at collection time, so they
reach junit.xml and survive pytest-xdist; ClaimsReport.add() reads them back from each test's
result. A claim no test backs is "not tested". A claim is "inconclusive" when any test behind
it did not pass (failed, errored, skipped, deselected, not run): its verdict never drifts to
what the remaining tests say. Otherwise, passing tests that agree give their verdict and a
mix gives "partly". A refuted claim is a finding about the article, not a test failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

VERDICTS = ("confirmed", "refuted", "partly")
OUTCOMES = ("passed", "failed", "error", "skipped", "deselected", "not run")
REASON_LIMIT = 200
PARTIAL = (
    "**Partial run: interrupted before every test ran; verdicts below are from the tests that did run.**"
)

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


def claim_properties(markers: Iterable[pytest.Mark], nodeid: str) -> list[tuple[str, str]]:
    """The junit user properties for a test's claim markers; a bad marker is a usage error."""
    properties = []
    for marker in markers:
        problem = _problem(marker)
        if problem:
            args = ", ".join([*map(repr, marker.args), *(f"{k}={v!r}" for k, v in marker.kwargs.items())])
            raise pytest.UsageError(f"{nodeid}: bad claim marker claim({args}): {problem}")
        claim, verdict, *note = marker.args
        note_text = note[0] if note else ""
        properties.append(("claim", json.dumps({"claim": claim, "verdict": verdict, "note": note_text})))
    return properties


def _problem(marker: pytest.Mark) -> str:
    usage = "use claim(id, verdict) or claim(id, verdict, evidence)"
    if marker.kwargs or len(marker.args) not in (2, 3):
        return f"{usage}, positional arguments only"
    claim, verdict, *note = marker.args
    if not isinstance(claim, str) or claim not in CLAIMS:
        return f"unknown claim {claim!r}; claims are S1..S{len(CLAIMS)}"
    if verdict not in VERDICTS:
        return f"unknown verdict {verdict!r}; verdicts are {', '.join(VERDICTS)}"
    if note and not isinstance(note[0], str):
        return f"the evidence must be a str, not {type(note[0]).__name__}"
    return ""


@dataclass(frozen=True)
class RunInfo:
    kubernetes: list[str]  # the API servers' versions seen, e.g. ["v1.34.4"]
    kubelets: list[str]  # the kubelet versions seen on the nodes
    partial: bool  # the run was interrupted before every test ran
    deselected: list[str]  # deselected tests, each a nodeid with the reason


@dataclass(frozen=True)
class Evidence:
    claim: str
    test: str
    verdict: str  # as the test's marker says
    note: str
    outcome: str  # one of OUTCOMES
    reason: str  # why the test did not pass, one line


@dataclass
class ClaimsReport:
    by_test: dict[str, list[Evidence]] = field(default_factory=dict)

    def add(
        self, nodeid: str, outcome: str, reason: str, user_properties: Iterable[tuple[str, object]]
    ) -> None:
        """Record a test's result; a later call for the same nodeid replaces the earlier one."""
        if outcome not in OUTCOMES:
            raise ValueError(f"{nodeid}: outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        reason = next(iter(reason.strip().splitlines()), "")
        if len(reason) > REASON_LIMIT:
            reason = reason[: REASON_LIMIT - 1] + "…"
        claims = [json.loads(str(value)) for name, value in user_properties if name == "claim"]
        self.by_test[nodeid] = [
            Evidence(c["claim"], nodeid, c["verdict"], c["note"], outcome, reason) for c in claims
        ]

    def verdict(self, claim: str) -> str:
        tests = self._backing(claim)
        if not tests:
            return "not tested"
        if any(e.outcome != "passed" for e in tests):
            return "inconclusive"
        verdicts = {e.verdict for e in tests}
        return verdicts.pop() if len(verdicts) == 1 else "partly"

    def rows(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for claim, text in CLAIMS.items():
            tests = self._backing(claim)
            row: dict[str, object] = {
                "claim": claim,
                "text": text,
                "verdict": self.verdict(claim),
                "tests": [
                    {"test": e.test, "verdict": e.verdict, "outcome": e.outcome, "reason": e.reason}
                    for e in tests
                ],
                "evidence": _notes(tests),
            }
            if row["verdict"] == "inconclusive":
                row["why"] = _why(tests)
            rows.append(row)
        return rows

    def write(self, directory: Path, run: RunInfo) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        report = {
            "kubernetes": run.kubernetes,
            "kubelets": run.kubelets,
            "partial": run.partial,
            "deselected": run.deselected,
            "claims": self.rows(),
        }
        (directory / "claims.json").write_text(json.dumps(report, indent=2) + "\n")
        (directory / "claims.md").write_text(self._markdown(run))

    @staticmethod
    def remove(directory: Path) -> None:
        for name in ("claims.json", "claims.md"):
            (directory / name).unlink(missing_ok=True)

    def _backing(self, claim: str) -> list[Evidence]:
        return [e for evidence in self.by_test.values() for e in evidence if e.claim == claim]

    def _markdown(self, run: RunInfo) -> str:
        kubernetes = ", ".join(run.kubernetes) or "unknown"
        kubelets = ", ".join(run.kubelets) or "unknown"
        lines = [f"# Seed-article claims on Kubernetes {kubernetes} (kubelets {kubelets})", ""]
        if run.partial:
            lines += [PARTIAL, ""]
        lines += ["| claim | verdict | evidence or why | tests |", "|---|---|---|---|"]
        for claim, text in CLAIMS.items():
            tests = self._backing(claim)
            verdict = self.verdict(claim)
            detail = _why(tests) if verdict == "inconclusive" else " ".join(_notes(tests))
            names = "<br>".join(f"`{e.test.split('::')[-1]}` ({e.verdict}; {e.outcome})" for e in tests)
            lines.append(f"| {claim}: {_cell(text)} | **{verdict}** | {_cell(detail)} | {names} |")
        if run.deselected:
            lines += ["", "## Deselected tests", "", *(f"- {_cell(d)}" for d in run.deselected)]
        return "\n".join(lines) + "\n"


def _notes(tests: list[Evidence]) -> list[str]:
    # Parametrized tests repeat their marker's note: each note once, in order.
    return list(dict.fromkeys(e.note for e in tests if e.note and e.outcome == "passed"))


def _why(tests: list[Evidence]) -> str:
    return "; ".join(
        f"{e.test} {e.outcome}" + (f": {e.reason}" if e.reason else "")
        for e in tests
        if e.outcome != "passed"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;")
