"""The behaviour-by-version report: per-version result directories merged into one matrix.

    python -m harness.reports.conformance --out DIR RESULT_DIR [RESULT_DIR ...]   (make report)

A result directory (one per Kubernetes version, from this machine or another) holds run.json
(what the run was), junit.xml (each test's outcome), claims.json (the verdicts) and, for each
failed test, its diagnostics directory. The report reads only these files, so it can be rebuilt
from directories copied from anywhere. Rows are the tests, grouped by area (their module), and
the claims; columns are the versions, in version order. A test a column did not run is "not
run" there; a column whose run failed (no image, no cluster) is "not run" throughout. The
differences are the rows whose cells are not the same in every column.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import itertools
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness import cli
from harness.errors import HarnessError
from harness.paths import diagnostics_dir as test_dir
from harness.reports.claims import CLAIMS

NOT_RUN = "not run"
MESSAGE_LIMIT = 160
_OUTCOMES = {"failure": "failed", "error": "error", "skipped": "skipped"}  # junit child → outcome
_CSS = {
    "passed": "ok", "confirmed": "ok", "partly": "info", "refuted": "finding",
    "failed": "bad", "error": "bad", "inconclusive": "warn",
    "skipped": "grey", NOT_RUN: "grey", "not tested": "grey",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Cell:
    result: str  # a test's outcome, a claim's verdict, or "not run"
    message: str = ""  # one line: why a test did not pass, why a claim is inconclusive
    diagnostics: Path | None = None  # a failed test's diagnostics directory, when there is one
    # What a passing test saw where versions legitimately differ (its "observed" junit property,
    # e.g. who refuses a static pod that references a Secret): part of the comparison.
    observed: str = ""


@dataclasses.dataclass(frozen=True)
class VersionResult:
    label: str  # the version the run asked for
    directory: Path
    kubernetes: tuple[str, ...]  # the API servers' own /version
    kubelets: tuple[str, ...]
    kind: str
    node_image: str
    status: str  # "ran" or "failed: <why>"
    partial: bool
    seconds: float | None
    tests: dict[str, Cell]  # by pytest nodeid
    claims: dict[str, Cell]  # by claim id
    deselected: dict[str, str]  # nodeid → why the run left it out

    @property
    def failed(self) -> bool:
        return self.status != "ran"


@dataclasses.dataclass(frozen=True)
class Row:
    area: str  # "claims", or a test's module without "test_"
    key: str  # the claim id or the test's nodeid
    text: str  # the claim, or the test's name as a sentence
    cells: tuple[Cell, ...]  # one per column

    @property
    def differs(self) -> bool:
        return self.differs_among(range(len(self.cells)))

    def differs_among(self, columns: Iterable[int]) -> bool:
        """The cells of these columns are not all the same: result, or what a passing test observed."""
        return len({(self.cells[i].result, self.cells[i].observed) for i in columns}) > 1


@dataclasses.dataclass(frozen=True)
class Matrix:
    columns: tuple[VersionResult, ...]
    claims: tuple[Row, ...]
    behaviours: tuple[Row, ...]

    @property
    def differences(self) -> list[Row]:
        return [row for row in (*self.claims, *self.behaviours) if row.differs]


def load(directory: Path) -> VersionResult:
    """One version's result directory; a missing or unreadable file is a HarnessError naming it."""
    run = _json(directory, "run.json")
    for name in ("requested", "status"):
        if not isinstance(run.get(name), str):
            raise HarnessError(f"{directory / 'run.json'} has no {name!r} (a string)")
    if run["status"] != "ran" and not run["status"].startswith("failed"):
        raise HarnessError(
            f"{directory}: run.json's status is {run['status']!r}, not 'ran' or 'failed: <why>'"
        )
    column = VersionResult(
        label=run["requested"],
        directory=directory,
        kubernetes=tuple(_field(directory, run, "kubernetes", list, [])),
        kubelets=tuple(_field(directory, run, "kubelets", list, [])),
        kind=_field(directory, run, "kind", str, ""),
        node_image=_field(directory, run, "node_image", str, ""),
        status=run["status"],
        partial=_field(directory, run, "partial", bool, False),
        seconds=_field(directory, run, "seconds", (int, float), None),
        tests={},
        claims={},
        deselected={},
    )
    if column.failed:  # its cells are all "not run", whatever files it left
        return column
    tests = junit_outcomes(directory)
    if not (directory / "claims.json").exists():  # a run without claim tests writes none
        return dataclasses.replace(column, tests=tests)
    claims = _json(directory, "claims.json")
    try:
        verdicts = {c["claim"]: Cell(c["verdict"], _line(c.get("why", ""))) for c in claims.get("claims", [])}
        deselected = dict(d.split(": ", 1) for d in claims.get("deselected", []))  # "nodeid: why"
    except (KeyError, TypeError, AttributeError, ValueError):
        where = directory / "claims.json"
        raise HarnessError(f"{where}: not claims.json's shape (claims with 'claim' and 'verdict')") from None
    return dataclasses.replace(column, tests=tests, claims=verdicts, deselected=deselected)


def merge(results: list[VersionResult]) -> Matrix:
    if not results:
        raise HarnessError("no result directories to merge")
    columns = tuple(sorted(results, key=lambda r: (_numbers(r.label), r.label)))
    for before, after in itertools.pairwise(columns):
        if before.label == after.label:
            raise HarnessError(
                f"two result directories for {after.label}: {before.directory}, {after.directory}"
            )
    claim_ids = list(CLAIMS) + sorted(
        {c for col in columns for c in col.claims} - CLAIMS.keys(), key=_numbers
    )
    claims = tuple(
        Row("claims", c, CLAIMS.get(c, c), tuple(col.claims.get(c, Cell(NOT_RUN)) for col in columns))
        for c in claim_ids
    )
    nodeids = list(dict.fromkeys(nodeid for col in columns for nodeid in col.tests))
    behaviours = [
        Row(_area(n), n, _sentence(n), tuple(col.tests.get(n, _not_run(col, n)) for col in columns))
        for n in nodeids
    ]
    behaviours.sort(key=lambda row: row.area)  # stable: within an area, the order the runs met the tests
    return Matrix(columns, claims, tuple(behaviours))


def _not_run(col: VersionResult, nodeid: str) -> Cell:
    return Cell(NOT_RUN, col.deselected.get(nodeid, ""))


def write(matrix: Matrix, out_dir: Path) -> dict[str, Path]:
    """conformance.md, .json and .html in `out_dir`; appends to $GITHUB_STEP_SUMMARY when set."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {ext: out_dir / f"conformance.{ext}" for ext in ("md", "json", "html")}
    paths["md"].write_text(render_markdown(matrix, out_dir))
    paths["json"].write_text(render_json(matrix, out_dir))
    paths["html"].write_text(render_html(matrix, out_dir))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # the run's page: no links there, the diagnostics are in the uploaded artifacts
        sections = [f"# {_title(matrix)}", *_md_differences(matrix, None), *_md_versions(matrix)]
        with open(summary, "a") as out:
            out.write("\n".join([*sections, *_md_claims(matrix, None)]) + "\n")
    return paths


def render_json(matrix: Matrix, out_dir: Path) -> str:
    def row(r: Row) -> dict[str, object]:
        cells = {
            label: {
                "result": c.result,
                "message": c.message,
                "observed": c.observed,
                "diagnostics": _link(c, out_dir),
            }
            for label, c in zip(_labels(matrix), r.cells, strict=True)
        }
        return {"area": r.area, "key": r.key, "text": r.text, "cells": cells}

    report = {
        "versions": [
            {
                "version": col.label,
                "directory": os.path.relpath(col.directory, out_dir),
                "kubernetes": list(col.kubernetes),
                "kubelets": list(col.kubelets),
                "kind": col.kind,
                "node_image": col.node_image,
                "status": col.status,
                "partial": col.partial,
                "seconds": col.seconds,
            }
            for col in matrix.columns
        ],
        "differences": [row(r) for r in matrix.differences],
        "claims": [row(r) for r in matrix.claims],
        "behaviours": [row(r) for r in matrix.behaviours],
    }
    return json.dumps(report, indent=2) + "\n"


def render_markdown(matrix: Matrix, out_dir: Path) -> str:
    lines = [f"# {_title(matrix)}", *_md_differences(matrix, out_dir), *_md_versions(matrix)]
    lines += _md_claims(matrix, out_dir)
    lines += ["", "## Behaviours", "", _md_row(["area", "behaviour", *_labels(matrix)])]
    lines += [_md_row(["---"] * (len(matrix.columns) + 2))]
    lines += [_md_row([r.area, r.text, *(_md_cell(c, out_dir) for c in r.cells)]) for r in matrix.behaviours]
    return "\n".join(lines) + "\n"


def _md_differences(matrix: Matrix, out_dir: Path | None) -> list[str]:
    """Without out_dir, cells carry no links (so for every _md_ table)."""
    lines = ["", "## What differs between versions", ""]
    lines += [f"**{note}**\n" for note in _failed_notes(matrix)]
    if not matrix.differences:
        return [*lines, _SAME]
    lines += [_md_row(["", *_labels(matrix)]), _md_row(["---"] * (len(matrix.columns) + 1))]
    for heading, rows in _difference_groups(matrix):
        lines += [_md_row([f"**{heading}**", *[""] * len(matrix.columns)])] if heading else []
        lines += [_md_row([_md_name(r), *(_md_cell(c, out_dir) for c in r.cells)]) for r in rows]
    return lines


def _md_versions(matrix: Matrix) -> list[str]:
    lines = ["", "## Versions", "", _md_row(["version", *_META]), _md_row(["---"] * (len(_META) + 1))]
    return lines + [_md_row([col.label, *_meta(col)]) for col in matrix.columns]


def _md_claims(matrix: Matrix, out_dir: Path | None) -> list[str]:
    lines = ["", "## Claims of the article", "", _md_row(["claim", *_labels(matrix)])]
    lines += [_md_row(["---"] * (len(matrix.columns) + 1))]
    return lines + [_md_row([_md_name(r), *(_md_cell(c, out_dir) for c in r.cells)]) for r in matrix.claims]


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 20px; margin-bottom: 4px; } p.sub { margin-top: 0; color: #57606a; }
h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 4px; }
table.matrix { table-layout: fixed; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } th.name { width: 380px; } th.version { width: 220px; }
th.failed, tr.failed td, tr.failed th, p.failed { background: #ffebe9; color: #a40e26; }
p.failed { padding: 6px 10px; border-radius: 6px; display: inline-block; }
tr.area th { background: #eaeef2; font-weight: 600; }
td small { display: block; font-weight: 400; font-size: 12px; color: #57606a; overflow-wrap: anywhere; }
td.ok { background: #dafbe1; color: #116329; }
td.bad { background: #ffebe9; color: #a40e26; font-weight: 600; } td.bad a { color: inherit; }
td.warn { background: #fff8c5; color: #7d4e00; } td.grey { background: #f6f8fa; color: #6e7781; }
td.info { background: #ddf4ff; color: #0a3069; } td.finding { background: #fbefff; color: #6e40c9; }
p.same { background: #dafbe1; color: #116329; padding: 8px 12px; border-radius: 6px; display: inline-block; }
"""


def render_html(matrix: Matrix, out_dir: Path) -> str:
    versions = "".join(
        f'<th class="version{" failed" if col.failed else ""}">{_e(col.label)}</th>' for col in matrix.columns
    )
    table = f'<table class="matrix" style="width: {380 + 220 * len(matrix.columns)}px">'
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(_title(matrix))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{_e(_title(matrix))}</h1>",
        f'<p class="sub">{_e(_counts(matrix))}</p>',
        "<h2>What differs between versions</h2>",
        *(f'<p class="failed">{_e(note)}</p>' for note in _failed_notes(matrix)),
    ]
    if matrix.differences:
        parts += [f'{table}<tr><th class="name"></th>{versions}</tr>']
        for heading, rows in _difference_groups(matrix):
            parts += [_html_heading(heading, matrix)] if heading else []
            parts += [_html_row(r, out_dir, with_area=True) for r in rows]
        parts.append("</table>")
    else:
        parts.append(f'<p class="same">{_e(_SAME)}</p>')
    parts += [
        "<h2>Versions</h2>",
        "<table>",
        "<tr>" + "".join(f"<th>{_e(h)}</th>" for h in ("version", *_META)) + "</tr>",
    ]
    for col in matrix.columns:
        cells = "".join(f"<td>{_e(v)}</td>" for v in _meta(col))
        parts.append(f'<tr class="{"failed" if col.failed else "ran"}"><th>{_e(col.label)}</th>{cells}</tr>')
    parts += [
        "</table>",
        "<h2>Claims of the article</h2>",
        f'{table}<tr><th class="name">claim</th>{versions}</tr>',
    ]
    parts += [_html_row(r, out_dir) for r in matrix.claims]
    parts += ["</table>", "<h2>Behaviours</h2>", f'{table}<tr><th class="name">behaviour</th>{versions}</tr>']
    area = None
    for r in matrix.behaviours:
        if r.area != area:
            area = r.area
            parts.append(_html_heading(area, matrix))
        parts.append(_html_row(r, out_dir))
    parts += ["</table>", "</body></html>", ""]
    return "\n".join(parts)


def _html_heading(text: str, matrix: Matrix) -> str:
    return f'<tr class="area"><th colspan="{len(matrix.columns) + 1}">{_e(text)}</th></tr>'


def _html_row(row: Row, out_dir: Path, with_area: bool = False) -> str:
    label = f"{row.key}: {row.text}" if row.area == "claims" else row.text
    where = f"<small>{_e(row.area)}</small>" if with_area and row.area != "claims" else ""
    name = f'<td class="name" title="{_e(row.key)}">{where}{_e(label)}</td>'
    return "<tr>" + name + "".join(_html_cell(c, out_dir) for c in row.cells) + "</tr>"


def _html_cell(cell: Cell, out_dir: Path) -> str:
    link = _link(cell, out_dir)
    text = f'<a href="{_e(link)}">{_e(cell.result)}</a>' if link else _e(cell.result)
    short = _short(cell.message or cell.observed)
    why = f"<small>{_e(short)}</small>" if short else ""
    title = (
        f' title="{_e(cell.message or cell.observed)}"' if short != (cell.message or cell.observed) else ""
    )
    return f'<td class="{_CSS.get(cell.result, "grey")}"{title}>{text}{why}</td>'


_SAME = "Every behaviour and claim has the same result on every version."
_META = ("Kubernetes (from the cluster)", "kubelets", "kind", "node image", "status", "time")


def _counts(matrix: Matrix) -> str:
    rows = len(matrix.claims) + len(matrix.behaviours)
    text = f"{len(matrix.differences)} of {rows} rows differ between versions"
    failed = _failed_labels(matrix)
    if not failed:
        return text
    return f"{text}; {len(_among_ran(matrix))} between the versions that ran ({failed} did not run)"


def _failed_notes(matrix: Matrix) -> list[str]:
    return [
        f'{col.label} did not run ({col.status}): all its cells are "not run".'
        for col in matrix.columns
        if col.failed
    ]


def _failed_labels(matrix: Matrix) -> str:
    return ", ".join(col.label for col in matrix.columns if col.failed)


def _among_ran(matrix: Matrix) -> list[Row]:
    ran = [i for i, col in enumerate(matrix.columns) if not col.failed]
    return [r for r in matrix.differences if r.differs_among(ran)]


def _difference_groups(matrix: Matrix) -> list[tuple[str, list[Row]]]:
    """With a failed column, the rows that differ between the versions that ran come first."""
    failed = _failed_labels(matrix)
    if not failed:
        return [("", matrix.differences)]
    among = _among_ran(matrix)
    groups = [
        ("Differ between the versions that ran", among),
        (
            f"The same on the versions that ran; {failed} did not run",
            [r for r in matrix.differences if r not in among],
        ),
    ]
    return [(heading, rows) for heading, rows in groups if rows]


def _meta(col: VersionResult) -> list[str]:
    status = (
        "ran, partial (interrupted or not every test ran)"
        if col.status == "ran" and col.partial
        else col.status
    )
    time = f"{col.seconds / 60:.1f} min" if col.seconds is not None else "—"
    return [", ".join(col.kubernetes) or "—", ", ".join(col.kubelets) or "—", col.kind or "—",
            col.node_image or "—", status, time]  # fmt: skip


def _title(matrix: Matrix) -> str:
    return "Static pods on Kubernetes " + ", ".join(_labels(matrix))


def _labels(matrix: Matrix) -> list[str]:
    return [col.label for col in matrix.columns]


def _md_name(row: Row) -> str:
    return f"{row.key}: {row.text}" if row.area == "claims" else f"{row.area}: {row.text}"


def _md_cell(cell: Cell, out_dir: Path | None) -> str:
    link = _link(cell, out_dir) if out_dir else None
    text = f"[{cell.result}]({link})" if link else cell.result
    note = cell.message or cell.observed
    return f"{text}: {_short(note)}" if note else text


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("<", "&lt;") for c in cells) + " |"


def _link(cell: Cell, out_dir: Path) -> str | None:
    return Path(os.path.relpath(cell.diagnostics, out_dir)).as_posix() if cell.diagnostics else None


def _short(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 1] + "…"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _json(directory: Path, name: str) -> dict[str, Any]:
    path = directory / name
    if not path.is_file():
        raise HarnessError(f"{directory} is not a result directory: no {name}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path} is not a JSON object")
    return data


def _field(
    directory: Path, run: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any
) -> Any:
    """An optional run.json field: the default when absent, a HarnessError when of another type."""
    value = run.get(name, default)
    if value is not None and not isinstance(value, kind):
        raise HarnessError(f"{directory / 'run.json'}: {name!r} is {value!r}, of the wrong type")
    return value


def junit_outcomes(directory: Path) -> dict[str, Cell]:
    """Each test's outcome in directory/junit.xml, by node id; the first that is not "passed" (a failed
    call, then a teardown error) wins."""
    path = directory / "junit.xml"
    if not path.is_file():
        raise HarnessError(f"{directory} has a run.json with status 'ran' but no junit.xml")
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise HarnessError(f"{path} cannot be read: {exc}") from None
    tests: dict[str, Cell] = {}
    for case in root.iter("testcase"):
        nodeid = _nodeid(case.get("classname", ""), case.get("name", ""))
        child = next((c for c in case if c.tag in _OUTCOMES), None)
        if child is None:
            observed = [p.get("value", "") for p in case.iter("property") if p.get("name") == "observed"]
            cell = Cell("passed", observed="; ".join(observed))
        else:
            diagnostics = test_dir(directory, nodeid)
            found = diagnostics if child.tag != "skipped" and diagnostics.is_dir() else None
            cell = Cell(_OUTCOMES[child.tag], _line(child.get("message") or child.text or ""), found)
        if tests.get(nodeid, Cell("passed")).result == "passed":
            tests[nodeid] = cell
    return tests


def _nodeid(classname: str, name: str) -> str:
    """junit's "tests.e2e.test_x[.TestClass]" and name back to "tests/e2e/test_x.py[::TestClass]::name"."""
    if not classname:  # a module that could not be collected: its dotted path is the name
        return name.replace(".", "/") + ".py"
    parts = classname.split(".")
    module = next((i for i, part in enumerate(parts) if part[:1].isupper()), len(parts))
    return "::".join(["/".join(parts[:module]) + ".py", *parts[module:], name])


def _area(nodeid: str) -> str:
    return Path(nodeid.split("::")[0]).stem.removeprefix("test_")


def _sentence(nodeid: str) -> str:
    """test_deleted_mirror_pod_comes_back[forced] → "deleted mirror pod comes back [forced]"."""
    if "::" not in nodeid:
        return "collecting the module"
    name, bracket, params = nodeid.split("::")[-1].partition("[")
    return name.removeprefix("test_").replace("_", " ") + (f" [{params}" if bracket else "")


def _line(text: str) -> str:
    return next(iter(text.strip().splitlines()), "")


def _numbers(label: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", label))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.reports.conformance")
    parser.add_argument("--out", type=Path, required=True, help="where conformance.md/.json/.html go")
    parser.add_argument("result_dirs", nargs="+", type=Path, metavar="RESULT_DIR")
    args = parser.parse_args(argv)

    def report() -> None:
        matrix = merge([load(d) for d in args.result_dirs])
        for path in write(matrix, args.out).values():
            print(path)
        print(f"{len(matrix.differences)} differences between {len(matrix.columns)} versions")

    return cli.run(report)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
