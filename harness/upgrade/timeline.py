"""One hop of an upgrade as a timeline: a strip per pod, the steps marked across all of them.

Each strip holds the spans where its pod was not Ready (from the Ready watch, a deleted mirror
counted as not Ready), and marks: a container that restarted (its new start time, whole seconds
as the API gives it) and a mirror deleted (a pod recreated under a new config.hash). The steps
are the orchestration's own (kubeadm, each kubelet swap); records made before steps were kept
give the kubelet restart and the node's Ready from swap_started and node_ready_seconds.
render_svg draws it as inline SVG (no script, no external resource); render_text says the same.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from harness.upgrade.diff import ControlPlaneFinding, PodFinding, UpgradeDiff
from harness.upgrade.records import Step

MIRROR_DELETED = "MirrorDeleted"  # the Ready watch's reason for a mirror that went away
# Drawing, in SVG user units.
LABEL_WIDTH = 300
LABEL_CHARS = 46  # a longer pod name is cut at its start (the full name on hover)
PLOT_WIDTH = 900
STRIP_HEIGHT = 22
STRIP_GAP = 6
STEP_ROW = 13  # height of one row of step labels above the strips
CHAR_WIDTH = 6.2  # about how wide one character of the 11px labels is
BOTTOM = 26  # room for the time axis


@dataclass(frozen=True)
class Span:
    start: float  # seconds from the timeline's start
    end: float
    why: str


@dataclass(frozen=True)
class Mark:
    at: float | None  # None: the record does not say when (drawn at the strip's end, hollow)
    kind: str  # "restart", "mirror" or "manifest"
    what: str


@dataclass(frozen=True)
class Strip:
    name: str
    user: bool  # a pod from the user's manifests
    not_ready: tuple[Span, ...]
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class Timeline:
    start: datetime
    length: float  # seconds
    steps: tuple[tuple[float, str], ...]
    strips: tuple[Strip, ...]  # named namespace/pod, without the mirror's -<node> suffix
    node: str


def record_steps(result: UpgradeDiff) -> tuple[Step, ...]:
    """The steps recorded, or, for an older record, the restart and the node's Ready."""
    record = result.record
    if record.steps:
        return record.steps
    steps = [Step(record.swap_started, f"kubelet {record.to_version} restarted")]
    if record.node_ready_seconds is not None:
        steps.append(Step(record.swap_started + timedelta(seconds=record.node_ready_seconds), "node Ready"))
    return tuple(steps)


def build_timeline(result: UpgradeDiff) -> Timeline:
    record = result.record
    steps = record_steps(result)
    observed = {o.key: o for o in record.observations}
    firsts = [t.time for o in record.observations for t in o.transitions[:1]]
    start = min([*firsts, *(s.time for s in steps), record.swap_started])
    end = record.watch_ended

    def at(moment: datetime) -> float:
        return (moment - start).total_seconds()

    strips = []
    for pod in result.pods:
        seen = observed.get(pod.key)
        transitions = sorted(seen.transitions if seen else (), key=lambda t: t.time)
        spans = tuple(
            Span(at(t.time), at(transitions[i + 1].time if i + 1 < len(transitions) else end), t.reason)
            for i, t in enumerate(transitions)
            if not t.ready
        )
        marks = [
            Mark(at(t.time), "mirror", "mirror deleted") for t in transitions if t.reason == MIRROR_DELETED
        ]
        if pod.mirror_recreated and not marks and pod.after is not None:
            uids = f"uid {pod.before.mirror_uid[:8]} → {pod.after.mirror_uid[:8]}"
            marks.append(Mark(None, "mirror", f"mirror recreated ({uids}; when, the record does not say)"))
        marks += _restart_marks(pod, at, at(end))
        marks.sort(key=lambda m: m.at if m.at is not None else float("inf"))
        name = pod.key.removesuffix(f"-{record.node.lower()}")  # the mirror's node suffix, said once
        strips.append(Strip(name, pod.key in record.user_pods, spans, tuple(marks)))
    strips += [_control_plane_strip(c, at, end) for c in result.control_plane]
    for what, label in (("readyz", "API server: GET /readyz"), ("request", "API server: requests")):
        spans = tuple(
            Span(at(o.start), at(o.end), f"{what} failed") for o in record.api_outages if o.what == what
        )
        if record.control_plane or spans:
            strips.append(Strip(label, False, spans, ()))
    return Timeline(start, at(end), tuple((at(s.time), s.what) for s in steps), tuple(strips), record.node)


def _control_plane_strip(pod: ControlPlaneFinding, at: Callable[[datetime], float], end: datetime) -> Strip:
    """kubeadm's pod from the prober's lists: not Ready from a list that saw it so until the next that
    saw it Ready; a new mirror uid marked; its manifest's rewrite marked."""
    record = pod.record
    seen = record.seen
    spans = tuple(
        Span(at(m.time), at(next((n.time for n in seen[i + 1 :] if n.ready), end)), "seen not Ready")
        for i, m in enumerate(seen)
        if not m.ready and (i == 0 or seen[i - 1].ready)
    )
    uids = [record.before, *seen]
    marks = [
        Mark(at(new.time), "mirror", f"new mirror uid {new.uid[:8]}")
        for old, new in pairwise(uids)
        if old is not None and new is not None and old.uid != new.uid
    ]
    if record.manifest_changed is not None:
        marks.append(Mark(at(record.manifest_changed), "manifest", "manifest rewritten by kubeadm"))
    return Strip(pod.key, False, spans, tuple(sorted(marks, key=lambda m: m.at or 0.0)))


def _restart_marks(pod: PodFinding, at: Callable[[datetime], float], length: float) -> list[Mark]:
    marks = []
    for container in pod.containers:
        started = container.after.started_at if container.after else None
        if container.restarted and started is not None:
            moment = at(started)
            if 0 <= moment <= length + 1:  # whole seconds: the last one may round up
                marks.append(Mark(min(moment, length), "restart", f"container {container.name} restarted"))
    return marks


def render_text(timeline: Timeline) -> list[str]:
    """Markdown lines: the steps, then each pod's not-Ready spans and marks, in time order."""
    lines = [
        f"Node {timeline.node}; times are seconds from {timeline.start.isoformat()}; the watch ended at "
        f"+{timeline.length:.1f} s."
    ]
    lines += ["", "Steps:", ""] + [f"- +{t:.1f} s {what}" for t, what in timeline.steps]
    lines += ["", "Pods:", ""]
    for strip in timeline.strips:
        events = [
            (
                s.start,
                f"+{s.start:.1f} s not Ready until +{s.end:.1f} s ({s.end - s.start:.1f} s{_why(s.why)})",
            )
            for s in strip.not_ready
        ]
        events += [(m.at, f"+{m.at:.1f} s {m.what}") for m in strip.marks if m.at is not None]
        texts = [text for _, text in sorted(events)] + [m.what for m in strip.marks if m.at is None]
        said = "; ".join(texts) or "Ready throughout"
        lines.append(f"- {strip.name}{' (yours)' if strip.user else ''}: {said}")
    return lines


def render_svg(timeline: Timeline) -> str:
    """The timeline as one inline <svg>: a strip per pod, not-Ready spans red, restarts as triangles,
    mirror deletions as diamonds, the steps as dashed lines with their names on top."""
    width = LABEL_WIDTH + PLOT_WIDTH + 24
    length = max(timeline.length, 1.0)

    def x(seconds: float) -> float:
        return round(LABEL_WIDTH + PLOT_WIDTH * min(max(seconds, 0.0), length) / length, 1)

    labels = _step_labels([(x(t), f"{what} (+{t:.1f} s)") for t, what in timeline.steps], width)
    top = STEP_ROW * (max((row for _, _, row, _ in labels), default=0) + 1) + 14
    height = top + len(timeline.strips) * (STRIP_HEIGHT + STRIP_GAP) + BOTTOM

    parts = [
        f'<svg class="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline of the upgrade">',
        "<style>text{font:11px system-ui,sans-serif;fill:#1b1f24}.step{stroke:#57606a;stroke-dasharray:4 3}"
        ".strip{fill:#dafbe1}.down{fill:#cf222e}.restart{fill:#bf8700}.mirror{fill:#8250df}.manifest{fill:#0969da}"
        ".user{font-weight:600}.unknown{fill:none;stroke:#8250df;stroke-width:1.5}</style>",
    ]
    for row, strip in enumerate(timeline.strips):
        y = top + row * (STRIP_HEIGHT + STRIP_GAP)
        mid = y + STRIP_HEIGHT / 2
        label = strip.name + (" (yours)" if strip.user else "")
        shown = label if len(label) <= LABEL_CHARS else "…" + label[-(LABEL_CHARS - 1) :]
        css = ' class="user"' if strip.user else ""
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{mid + 4}" text-anchor="end"{css}>'
            f"<title>{_e(label)}</title>{_e(shown)}</text>"
        )
        parts.append(
            f'<rect class="strip" x="{LABEL_WIDTH}" y="{y}" width="{PLOT_WIDTH}" height="{STRIP_HEIGHT}"/>'
        )
        for span in strip.not_ready:
            left, right = x(span.start), x(span.end)
            title = f"not Ready +{span.start:.1f} s to +{span.end:.1f} s{_why(span.why)}"
            parts.append(
                f'<rect class="down" x="{left}" y="{y}" width="{max(right - left, 1.5)}" '
                f'height="{STRIP_HEIGHT}"><title>{_e(title)}</title></rect>'
            )
        for mark in strip.marks:
            if mark.at is None:
                cx, title = x(length) + 8, _e(mark.what)
            else:
                cx, title = x(mark.at), _e(f"+{mark.at:.1f} s {mark.what}")
            if mark.kind == "restart":
                points = f"{cx - 5},{y + STRIP_HEIGHT} {cx + 5},{y + STRIP_HEIGHT} {cx},{y + 6}"
            elif mark.kind == "manifest":
                points = f"{cx - 4},{y + 2} {cx + 4},{y + 2} {cx + 4},{y + 10} {cx - 4},{y + 10}"
            else:
                points = f"{cx},{y + 2} {cx + 6},{mid} {cx},{y + STRIP_HEIGHT - 2} {cx - 6},{mid}"
            css = f"{mark.kind} unknown" if mark.at is None else mark.kind
            parts.append(f'<polygon class="{css}" points="{points}"><title>{title}</title></polygon>')
    bottom = top + len(timeline.strips) * (STRIP_HEIGHT + STRIP_GAP)
    for sx, text, row, anchor in labels:
        parts.append(f'<line class="step" x1="{sx}" y1="{STEP_ROW * row + 4}" x2="{sx}" y2="{bottom}"/>')
        tx = sx + 3 if anchor == "start" else sx - 3
        parts.append(f'<text x="{tx}" y="{STEP_ROW * (row + 1)}" text-anchor="{anchor}">{_e(text)}</text>')
    for tick in _ticks(length):
        parts.append(f'<text x="{x(tick)}" y="{bottom + 16}" text-anchor="middle">+{tick:g} s</text>')
    parts.append("</svg>")
    return "\n".join(parts)


LEGEND = (
    '<p class="legend">Each strip is one pod, left to right across the hop: green Ready, '
    '<span style="color:#cf222e">red not Ready</span>, '
    '<span style="color:#bf8700">▲ a container restarted</span>, '
    '<span style="color:#8250df">◆ mirror deleted or replaced (◇ after the strip: recreated, time not '
    'recorded)</span>, <span style="color:#0969da">■ manifest rewritten by kubeadm</span>, '
    "dashed lines the steps. Hover for times.</p>"
)


def _step_labels(steps: list[tuple[float, str]], width: float) -> list[tuple[float, str, int, str]]:
    """Each step's label (x, text, row, anchor): on the first row where it overlaps no other label,
    to the left of its line when it would run past the right edge."""
    rows: list[list[tuple[float, float]]] = []
    placed = []
    for sx, text in steps:
        size = len(text) * CHAR_WIDTH + 6
        anchor = "start" if sx + size <= width else "end"
        span = (sx, sx + size) if anchor == "start" else (sx - size, sx)
        row = next(
            (i for i, taken in enumerate(rows) if all(span[0] > b or span[1] < a for a, b in taken)), None
        )
        if row is None:
            rows.append([])
            row = len(rows) - 1
        rows[row].append(span)
        placed.append((sx, text, row, anchor))
    return placed


def _ticks(length: float) -> list[float]:
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600) if length / s <= 10)
    return [float(t) for t in range(0, int(length) + 1, step)]


def _why(reason: str) -> str:
    return f", {reason}" if reason else ""


def _e(text: str) -> str:
    return html.escape(text, quote=True)
