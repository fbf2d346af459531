"""The upgrade check's report: upgrade.md, upgrade.json and a self-contained upgrade.html.

upgrade.json holds the verdict, the findings and the whole record, so that
`read_record(path)` rebuilds the same report from it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.upgrade.diff import ContainerFinding, PodFinding, UpgradeDiff, diff_upgrade
from harness.upgrade.records import UpgradeRecord

NO_REASON = "no kubelet message (its restart messages need --v=2, or read the Killing events)"


@dataclass(frozen=True)
class Cell:
    text: str
    bad: bool = False
    warn: bool = False


def write_reports(record: UpgradeRecord, directory: Path) -> dict[str, Path]:
    """Write upgrade.md, upgrade.json and upgrade.html into `directory`; returns their paths."""
    result = diff_upgrade(record)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {ext: directory / f"upgrade.{ext}" for ext in ("md", "json", "html")}
    paths["md"].write_text(render_markdown(result))
    paths["json"].write_text(render_json(result))
    paths["html"].write_text(render_html(result))
    return paths


def read_record(path: Path) -> UpgradeRecord:
    return UpgradeRecord.from_json(json.dumps(json.loads(path.read_text())["record"]))


def render_json(result: UpgradeDiff) -> str:
    verdict = result.verdict
    summary = {
        "verdict": verdict.line,
        "classification": verdict.classification,
        "upgrade": verdict.upgrade,
        "pods": [
            {
                "pod": pod.key,
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
    return json.dumps(summary, indent=2) + "\n"


def _headline(result: UpgradeDiff) -> list[tuple[str, str]]:
    record = result.record
    ready = record.node_ready_seconds
    return [
        ("Kubelet", f"{record.from_version} → {record.to_version} ({result.verdict.upgrade} upgrade)"),
        ("Node", record.node),
        ("Swap started", record.swap_started.isoformat()),
        ("Node Ready after the restart", f"{ready:.1f} s" if ready is not None else "never Ready"),
        (
            "How",
            "the control plane ran TO throughout; FROM's kubelet ran with the node's configuration "
            "(kubeadm's kubelet config and flags) as TO's cluster wrote it; then `kubeadm upgrade node`, "
            "the new binary, `systemctl restart kubelet`",
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


def render_markdown(result: UpgradeDiff) -> str:
    lines = [f"# Kubelet upgrade check: {result.verdict.line}", ""]
    lines += [f"- {name}: {value}" for name, value in _headline(result)]
    for pod in result.pods:
        lines += ["", f"## {pod.key}", ""]
        lines += [f"- {name}: {cell.text}" for name, cell in _pod_cells(pod)]
        lines += ["", _md_row(CONTAINER_COLUMNS), _md_row(["---"] * len(CONTAINER_COLUMNS))]
        lines += [_md_row([cell.text for cell in _container_cells(c)]) for c in pod.containers]
    lines += ["", "## Post-upgrade behaviours", ""]
    lines += [
        f"- {'passed' if b.passed else 'FAILED'}: {b.behaviour}" + (f" ({b.detail})" if b.detail else "")
        for b in result.record.behaviours
    ] or ["- none recorded"]
    return "\n".join(lines) + "\n"


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 20px; padding: 10px 14px; border-radius: 6px; }
h1.ok { background: #dafbe1; color: #116329; } h1.bad { background: #ffebe9; color: #a40e26; }
h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 4px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.bad { background: #ffebe9; color: #a40e26; font-weight: 600; }
td.warn { background: #fff8c5; color: #7d4e00; }
td.ok { background: #f0fff4; }
code, td.mono { font-family: ui-monospace, monospace; font-size: 12px; }
li.failed { color: #a40e26; font-weight: 600; } li.passed { color: #116329; }
"""


def render_html(result: UpgradeDiff) -> str:
    verdict = result.verdict
    bad = verdict.disrupted or verdict.behaviours_failed
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Kubelet upgrade check: {_e(verdict.line)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<h1 class="{"bad" if bad else "ok"}">{_e(verdict.line)}</h1>',
        "<table>",
        *(f"<tr><th>{_e(n)}</th><td>{_e(v)}</td></tr>" for n, v in _headline(result)),
        "</table>",
    ]
    for pod in result.pods:
        parts += [f"<h2>{_e(pod.key)}</h2>", "<table>"]
        parts += [f"<tr><th>{_e(name)}</th>{_td(cell)}</tr>" for name, cell in _pod_cells(pod)]
        parts += ["</table>", "<table>", _tr(f"<th>{_e(c)}</th>" for c in CONTAINER_COLUMNS)]
        parts += [_tr(_td(cell) for cell in _container_cells(c)) for c in pod.containers]
        parts.append("</table>")
    parts += ["<h2>Post-upgrade behaviours</h2>", "<ul>"]
    parts += [
        f'<li class="{"passed" if b.passed else "failed"}">{"passed" if b.passed else "FAILED"}: '
        f"{_e(b.behaviour)}{_e(f' ({b.detail})') if b.detail else ''}</li>"
        for b in result.record.behaviours
    ] or ["<li>none recorded</li>"]
    parts += ["</ul>", "</body></html>", ""]
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
