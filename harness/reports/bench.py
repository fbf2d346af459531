"""`make bench`'s figures from its samples: a table, bench.json and a self-contained bench.html.

A sample is one measurement of one behaviour: the kubelet's own latency (from its own timestamps;
None when the kubelet left none for that run) and the latency the harness observed. Their
difference is the harness's overhead. The HTML plots each behaviour's samples on one axis, the
kubelet's row above the harness's, as inline SVG: no script, no external font or stylesheet.
"""

from __future__ import annotations

import html
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    behaviour: str
    kubelet: float | None  # seconds, by the kubelet's own timestamps
    harness: float  # seconds, from the harness's action to the harness seeing the outcome

    @property
    def overhead(self) -> float | None:
        return None if self.kubelet is None else self.harness - self.kubelet


@dataclass(frozen=True)
class Spread:
    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        return cls(min(values), statistics.median(values), max(values)) if values else None

    def __str__(self) -> str:
        return f"{self.min:5.2f} {self.median:5.2f} {self.max:5.2f}"


@dataclass(frozen=True)
class Summary:
    behaviour: str
    n: int
    kubelet: Spread | None
    harness: Spread
    overhead: Spread | None


def summarize(samples: Sequence[Sample]) -> list[Summary]:
    """One summary per behaviour, in the order the behaviours were first measured."""
    behaviours = list(dict.fromkeys(s.behaviour for s in samples))
    summaries = []
    for behaviour in behaviours:
        mine = [s for s in samples if s.behaviour == behaviour]
        harness = Spread.of([s.harness for s in mine])
        assert harness is not None  # every behaviour listed has a sample
        summaries.append(
            Summary(
                behaviour,
                len(mine),
                Spread.of([s.kubelet for s in mine if s.kubelet is not None]),
                harness,
                Spread.of([o for s in mine if (o := s.overhead) is not None]),
            )
        )
    return summaries


def table(summaries: Sequence[Summary], target: float) -> str:
    """The figures as text: seconds, min median max, and whether the overhead median meets `target`."""
    width = max(len(s.behaviour) for s in summaries)
    head = f"{'behaviour':<{width}}  {'n':>2}  {'kubelet (s)':^17}  {'harness (s)':^17}  {'overhead (s)':^17}"
    sub = f"{'':<{width}}      {'min   med   max':^17}  {'min   med   max':^17}  {'min   med   max':^17}"
    rows = [head, sub]
    for s in summaries:
        verdict = "" if s.overhead is None else ("  ok" if s.overhead.median <= target else "  over target")
        cells = "  ".join(_cell(spread) for spread in (s.kubelet, s.harness, s.overhead))
        rows.append(f"{s.behaviour:<{width}}  {s.n:>2}  {cells}{verdict}")
    return "\n".join(rows)


def _cell(spread: Spread | None) -> str:
    return f"{spread!s:^17}" if spread else f"{'(no timestamp)':^17}"


def to_json(samples: Sequence[Sample], about: dict[str, Any], target: float) -> dict[str, Any]:
    return {
        **about,
        "overhead_target_median_s": target,
        "summary": [asdict(s) for s in summarize(samples)],
        "samples": [{**asdict(s), "overhead": s.overhead} for s in samples],
    }


def write(directory: Path, samples: Sequence[Sample], about: dict[str, Any], target: float) -> list[Path]:
    """bench.json and bench.html in `directory`; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, html_path = directory / "bench.json", directory / "bench.html"
    json_path.write_text(json.dumps(to_json(samples, about, target), indent=2) + "\n")
    html_path.write_text(render_html(samples, about, target))
    return [json_path, html_path]


# --- HTML ----------------------------------------------------------------------------------------
_WIDTH, _LEFT, _RIGHT, _ROW = 900, 90, 30, 34
_COLOURS = {"kubelet": "#1f77b4", "harness": "#d62728"}


def render_html(samples: Sequence[Sample], about: dict[str, Any], target: float) -> str:
    summaries = summarize(samples)
    facts = ", ".join(f"{_e(k)}: {_e(str(v))}" for k, v in about.items())
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>static pod bench</title>',
        "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
        "pre{background:#f4f4f4;padding:1em;overflow-x:auto}h2{font-size:1.05em;margin-top:1.6em}</style>",
        "</head><body>",
        "<h1>Static pod behaviours: the kubelet's latency and the harness's</h1>",
        f"<p>{facts}. Overhead target: median &le; {target:g} s per behaviour.</p>",
        f"<pre>{_e(table(summaries, target))}</pre>",
        '<p><span style="color:#1f77b4">&#9679; kubelet</span> (its own timestamps) &nbsp; '
        '<span style="color:#d62728">&#9679; harness</span> (what the harness observed); '
        "the bar is the median.</p>",
    ]
    for summary in summaries:
        mine = [s for s in samples if s.behaviour == summary.behaviour]
        parts += [f"<h2>{_e(summary.behaviour)}</h2>", _strip_plot(mine)]
    parts += ["</body></html>", ""]
    return "\n".join(parts)


def _strip_plot(samples: Sequence[Sample]) -> str:
    """One behaviour's samples on a seconds axis: the kubelet's row, then the harness's."""
    rows = {
        "kubelet": [s.kubelet for s in samples if s.kubelet is not None],
        "harness": [s.harness for s in samples],
    }
    top = max(max(values) for values in rows.values() if values)
    scale = _nice_ceiling(top)
    plot_width = _WIDTH - _LEFT - _RIGHT
    height = _ROW * len(rows) + 40

    def x(seconds: float) -> float:
        return _LEFT + plot_width * seconds / scale

    items = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" font-family="sans-serif" font-size="12">'
    ]
    for index, (who, values) in enumerate(rows.items()):
        y = 20 + _ROW * index
        colour = _COLOURS[who]
        items.append(f'<text x="{_LEFT - 10}" y="{y + 4}" text-anchor="end">{who}</text>')
        items.append(f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{y}" y2="{y}" stroke="#ddd"/>')
        for value in values:
            items.append(
                f'<circle cx="{x(value):.1f}" cy="{y}" r="5" fill="{colour}" fill-opacity="0.55">'
                f"<title>{who}: {value:.3f} s</title></circle>"
            )
        if values:
            median = x(statistics.median(values))
            items.append(
                f'<line x1="{median:.1f}" x2="{median:.1f}" y1="{y - 11}" y2="{y + 11}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
    axis_y = 20 + _ROW * len(rows) - 10
    items.append(f'<line x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{axis_y}" y2="{axis_y}" stroke="#333"/>')
    for tick in range(5):
        seconds = scale * tick / 4
        at = f"{x(seconds):.1f}"
        items.append(f'<line x1="{at}" x2="{at}" y1="{axis_y}" y2="{axis_y + 5}" stroke="#333"/>')
        items.append(f'<text x="{at}" y="{axis_y + 18}" text-anchor="middle">{seconds:g} s</text>')
    items.append("</svg>")
    return "\n".join(items)


def _nice_ceiling(value: float) -> float:
    """The axis end: the smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value`."""
    power = 0.1
    while True:
        for step in (1, 2, 2.5, 5):
            if step * power >= value:
                return step * power
        power *= 10


def _e(text: str) -> str:
    return html.escape(text, quote=True)
