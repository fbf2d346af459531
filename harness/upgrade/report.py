"""The upgrade check's report: upgrade.md, upgrade.json and a self-contained upgrade.html.

One section per hop (FROM, the newest patch of each minor between, TO), each with a timeline
(harness.upgrade.timeline: inline SVG in the HTML, text in the markdown); the verdict and the gate
cover every hop. upgrade.json holds the verdict, the findings and every hop's record, so that
`read_records(path)` rebuilds the same report from it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.upgrade.apiprobe import failed_seconds
from harness.upgrade.diff import (
    CheckResult,
    ContainerFinding,
    ControlPlaneFinding,
    PodFinding,
    UpgradeDiff,
    check_result,
)
from harness.upgrade.records import UpgradeRecord
from harness.upgrade.timeline import LEGEND, build_timeline, render_svg, render_text

NO_REASON = "no kubelet message (its restart messages need --v=2, or read the Killing events)"
# What `make upgrade-check` ends with: make exits 2 on any failure and names the code in its
# "Error N" line; pytest tests/upgrade exits with the code itself.
EXIT_CODES = (
    "0: the check ran and its gate passed (EXPECT=report: whatever it found); "
    "1: the gate failed: EXPECT=no-disruption and a static pod (built-in, yours, or a control-plane "
    "pod beyond what its manifest change explains) was disrupted in some hop, or, with either EXPECT, "
    "the new kubelet failed a post-upgrade behaviour or the node never got Ready; "
    "4: bad input (FROM/TO, MANIFESTS, SCOPE, EXPECT), one line each, before any cluster; "
    "2: interrupted; 3: an internal error"
)


@dataclass(frozen=True)
class Cell:
    text: str
    bad: bool = False
    warn: bool = False


def write_reports(records: Sequence[UpgradeRecord], directory: Path, expect: str) -> dict[str, Path]:
    """Write upgrade.md, upgrade.json and upgrade.html into `directory`; returns their paths."""
    result = check_result(records, expect)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {ext: directory / f"upgrade.{ext}" for ext in ("md", "json", "html")}
    paths["md"].write_text(render_markdown(result))
    paths["json"].write_text(render_json(result))
    paths["html"].write_text(render_html(result))
    return paths


def read_records(path: Path) -> tuple[UpgradeRecord, ...]:
    return tuple(
        UpgradeRecord.from_json(json.dumps(hop["record"])) for hop in json.loads(path.read_text())["hops"]
    )


def render_json(result: CheckResult) -> str:
    summary = {
        "verdict": result.line,
        "expect": result.expect,
        "gate": "failed" if result.failures else "passed",
        "failures": list(result.failures),
        "exit_codes": EXIT_CODES,
        "hops": [_hop_json(hop) for hop in result.hops],
    }
    return json.dumps(summary, indent=2) + "\n"


def _hop_json(result: UpgradeDiff) -> dict[str, Any]:
    verdict = result.verdict
    return {
        "verdict": verdict.line,
        "classification": verdict.classification,
        "upgrade": verdict.upgrade,
        "pods": [
            {
                "pod": pod.key,
                "yours": pod.key in result.record.user_pods,
                "disruptions": list(pod.disruptions),
                "sandbox_recreated": pod.sandbox_recreated,
                "mirror_recreated": pod.mirror_recreated,
                "config_hash": [pod.before.config_hash, pod.after.config_hash if pod.after else None],
                "ready_flaps": pod.ready.flaps,
                "not_ready_seconds": round(pod.ready.not_ready_seconds, 3),
                "running_at_end": pod.running_at_end,
                "kubelet_reasons": list(pod.reasons),
                "expected_for_version": list(pod.notes),
                "containers": [
                    {
                        "name": c.name,
                        "kind": c.kind,
                        "restarted": c.restarted,
                        "reason": c.reason,
                        "running_at_end": c.running_at_end,
                    }
                    for c in pod.containers
                ],
            }
            for pod in result.pods
        ],
        "record": json.loads(result.record.to_json()),
    }


def _gate(result: CheckResult) -> list[tuple[str, str]]:
    gate = "failed: " + " | ".join(result.failures) if result.failures else "passed"
    return [("Gate", f"EXPECT={result.expect}: {gate}"), ("Exit codes", EXIT_CODES)]


def _headline(result: UpgradeDiff) -> list[tuple[str, str]]:
    record = result.record
    ready = record.node_ready_seconds
    return [
        ("Kubelet", f"{record.from_version} → {record.to_version} ({result.verdict.upgrade} upgrade)"),
        ("Verdict", result.verdict.line),
        ("Node", record.node),
        ("Swap started", record.swap_started.isoformat()),
        ("Node Ready after the restart", f"{ready:.1f} s" if ready is not None else "never Ready"),
        ("How", " → ".join(s.what for s in record.steps) if record.steps else NODE_SCOPE_HOW),
        *_api_server(result),
    ]


NODE_SCOPE_HOW = (
    "the control plane ran TO throughout; FROM's kubelet ran with the node's configuration "
    "(kubeadm's kubelet config and flags) as TO's cluster wrote it; then `kubeadm upgrade node`, "
    "the new binary, `systemctl restart kubelet`"
)


def _api_server(result: UpgradeDiff) -> list[tuple[str, str]]:
    """SCOPE=cluster: the API server's unavailability during this hop, in seconds and intervals."""
    record = result.record
    if not record.control_plane and not record.api_outages:
        return []
    said = []
    for what, name in (("readyz", "GET /readyz failed"), ("request", "requests failed")):
        found = [o for o in record.api_outages if o.what == what]
        intervals = ", ".join(f"{_clock(o.start)} to {_clock(o.end)}" for o in found)
        said.append(f"{name} {failed_seconds(found, what):.1f} s" + (f" ({intervals})" if found else ""))
    return [("API server unavailable", "; ".join(said))]


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.%f")[:-5]


CONTROL_PLANE_COLUMNS = (
    "Pod",
    "Disrupted",
    "Replaced",
    "config.hash",
    "Mirror UID",
    "Ready after its manifest changed",
    "TO's image at the end",
)


def _control_plane_cells(pod: ControlPlaneFinding) -> list[Cell]:
    before, after = pod.record.before, pod.record.after
    hashes = f"{before.config_hash[:8] if before else '—'} → {after.config_hash[:8] if after else '—'}"
    uids = f"{before.uid[:8] if before else '—'} → {after.uid[:8] if after else '—'}"
    manifest = "its manifest changed" if pod.manifest_changed else "its manifest did not change"
    ready = pod.ready_seconds
    return [
        Cell(pod.key),
        Cell("; ".join(pod.disruptions) or "no", bad=pod.disrupted),
        Cell(f"{pod.replacements}x ({manifest})", bad=pod.replacements != (1 if pod.manifest_changed else 0)),
        Cell(hashes),
        Cell(uids),
        Cell(f"{ready:.1f} s" if ready is not None else "—", warn=pod.manifest_changed and ready is None),
        Cell(
            f"yes: {pod.record.wanted_image}"
            if pod.at_wanted_image
            else f"no: {after.image if after else '—'}",
            bad=not pod.at_wanted_image,
        ),
    ]


def _pod_cells(pod: PodFinding) -> list[tuple[str, Cell]]:
    after = pod.after
    new_hash = after.config_hash if after else "—"
    return [
        ("Disrupted", Cell("; ".join(pod.disruptions) or "no", bad=pod.disrupted)),
        ("Sandbox recreated", Cell(_yes(pod.sandbox_recreated), bad=pod.sandbox_recreated)),
        ("Mirror recreated", Cell(_mirror(pod), bad=pod.mirror_recreated)),
        (
            "config.hash",
            Cell(
                f"{pod.before.config_hash} → {new_hash}" if pod.hash_changed else pod.before.config_hash,
                bad=pod.hash_changed,
            ),
        ),
        (
            "Ready flaps",
            Cell(
                f"{pod.ready.flaps} ({pod.ready.not_ready_seconds:.1f} s not Ready)",
                warn=pod.ready.not_ready_seconds > 0,
            ),
        ),
        ("Running at the end", Cell(_yes(pod.running_at_end), bad=not pod.running_at_end)),
        ("Kubelet's pod messages", Cell("; ".join(pod.reasons) or "—")),
        ("Expected for this version", Cell("; ".join(pod.notes) or "—", warn=bool(pod.notes))),
    ]


CONTAINER_COLUMNS = ("Container", "Kind", "Restarted", "Kubelet's reason", "Id", "Restarts", "Running at end")


def _container_cells(c: ContainerFinding) -> list[Cell]:
    before, after = c.before, c.after
    old_id = _short(before.container_id if before else None)
    ids = f"{old_id} → {_short(after.container_id if after else None)}"
    counts = f"{before.restart_count if before else '—'} → {after.restart_count if after else '—'}"
    reason = c.reason or (NO_REASON if c.restarted else "—")
    return [
        Cell(c.name),
        Cell(c.kind),
        Cell(_yes(c.restarted), bad=c.restarted),
        Cell(reason, bad=c.restarted),
        Cell(ids, bad=c.restarted),
        Cell(counts),
        Cell(_yes(c.running_at_end), bad=not c.running_at_end),
    ]


def render_markdown(result: CheckResult) -> str:
    lines = [f"# Kubelet upgrade check: {result.line}", ""]
    lines += [f"- {name}: {value}" for name, value in _gate(result)]
    for number, hop in enumerate(result.hops, 1):
        lines += ["", f"## {_hop_title(hop, number, len(result.hops))}", ""]
        lines += [f"- {name}: {value}" for name, value in _headline(hop)]
        lines += ["", "### Timeline", "", *render_text(build_timeline(hop))]
        if hop.control_plane:
            lines += ["", "### kubeadm's control-plane pods", ""]
            lines += [_md_row(CONTROL_PLANE_COLUMNS), _md_row(["---"] * len(CONTROL_PLANE_COLUMNS))]
            lines += [_md_row([cell.text for cell in _control_plane_cells(c)]) for c in hop.control_plane]
        for pod in hop.pods:
            lines += ["", f"### {_pod_title(hop, pod)}", ""]
            lines += [f"- {name}: {cell.text}" for name, cell in _pod_cells(pod)]
            lines += ["", _md_row(CONTAINER_COLUMNS), _md_row(["---"] * len(CONTAINER_COLUMNS))]
            lines += [_md_row([cell.text for cell in _container_cells(c)]) for c in pod.containers]
        lines += ["", "### Post-upgrade behaviours", ""]
        lines += [
            f"- {'passed' if b.passed else 'FAILED'}: {b.behaviour}" + (f" ({b.detail})" if b.detail else "")
            for b in hop.record.behaviours
        ] or ["- none recorded"]
    return "\n".join(lines) + "\n"


def _hop_title(hop: UpgradeDiff, number: int, total: int) -> str:
    return f"Hop {number} of {total}: {hop.record.from_version} → {hop.record.to_version}"


def _pod_title(hop: UpgradeDiff, pod: PodFinding) -> str:
    return pod.key + (" (yours)" if pod.key in hop.record.user_pods else "")


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 20px; padding: 10px 14px; border-radius: 6px; }
h1.ok { background: #dafbe1; color: #116329; } h1.bad { background: #ffebe9; color: #a40e26; }
h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 15px; margin-top: 22px; }
.legend { font-size: 12px; color: #57606a; }
table { border-collapse: collapse; margin: 8px 0 4px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.bad { background: #ffebe9; color: #a40e26; font-weight: 600; }
td.warn { background: #fff8c5; color: #7d4e00; }
td.ok { background: #f0fff4; }
code, td.mono { font-family: ui-monospace, monospace; font-size: 12px; }
li.failed { color: #a40e26; font-weight: 600; } li.passed { color: #116329; }
"""


def render_html(result: CheckResult) -> str:
    bad = bool(result.failures) or result.disrupted
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Kubelet upgrade check: {_e(result.line)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<h1 class="{"bad" if bad else "ok"}">{_e(result.line)}</h1>',
        "<table>",
        *(f"<tr><th>{_e(n)}</th><td>{_e(v)}</td></tr>" for n, v in _gate(result)),
        "</table>",
    ]
    for number, hop in enumerate(result.hops, 1):
        parts += [f"<h2>{_e(_hop_title(hop, number, len(result.hops)))}</h2>", "<table>"]
        parts += [f"<tr><th>{_e(n)}</th><td>{_e(v)}</td></tr>" for n, v in _headline(hop)]
        parts += ["</table>", "<h3>Timeline</h3>", LEGEND, render_svg(build_timeline(hop))]
        if hop.control_plane:
            parts += ["<h3>kubeadm's control-plane pods</h3>", "<table>"]
            parts.append(_tr(f"<th>{_e(c)}</th>" for c in CONTROL_PLANE_COLUMNS))
            parts += [_tr(_td(cell) for cell in _control_plane_cells(c)) for c in hop.control_plane]
            parts.append("</table>")
        for pod in hop.pods:
            parts += [f"<h3>{_e(_pod_title(hop, pod))}</h3>", "<table>"]
            parts += [f"<tr><th>{_e(name)}</th>{_td(cell)}</tr>" for name, cell in _pod_cells(pod)]
            parts += ["</table>", "<table>", _tr(f"<th>{_e(c)}</th>" for c in CONTAINER_COLUMNS)]
            parts += [_tr(_td(cell) for cell in _container_cells(c)) for c in pod.containers]
            parts.append("</table>")
        parts += ["<h3>Post-upgrade behaviours</h3>", "<ul>"]
        parts += [
            f'<li class="{"passed" if b.passed else "failed"}">{"passed" if b.passed else "FAILED"}: '
            f"{_e(b.behaviour)}{_e(f' ({b.detail})') if b.detail else ''}</li>"
            for b in hop.record.behaviours
        ] or ["<li>none recorded</li>"]
        parts.append("</ul>")
    parts += ["</body></html>", ""]
    return "\n".join(parts)


def _tr(cells: Iterable[str]) -> str:
    return "<tr>" + "".join(cells) + "</tr>"


def _td(cell: Cell) -> str:
    css = "bad" if cell.bad else "warn" if cell.warn else "ok"
    return f'<td class="{css}">{_e(cell.text)}</td>'


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _md_row(cells: list[str] | tuple[str, ...]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _mirror(pod: PodFinding) -> str:
    if not pod.mirror_recreated or pod.after is None:
        return "no"
    return f"yes: uid {_short(pod.before.mirror_uid)} → {_short(pod.after.mirror_uid)}"


def _short(container_id: str | None) -> str:
    return container_id[:13] if container_id else "—"
