"""The layer map: which floor each part of harness/ stands on. Lower floors never import higher ones.

This table is the one copy of the map: tests/unit/test_layers.py checks every import in harness/
against it, and `python -m harness.layers` prints it as markdown for the docs.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

HARNESS = Path(__file__).parent


class Floor(NamedTuple):
    number: int
    parts: tuple[str, ...]  # packages (cluster) or modules (waiting) directly under harness/
    role: str


FLOORS = (
    Floor(8, ("plugin", "tools"), "pytest wiring (options, fixtures, xdist, the run summary); make targets"),
    Floor(7, ("upgrade",), "the upgrade check: plan, swap, observe, diff, report"),
    Floor(6, ("staticpods",), "manifests, placed pods and their waits, the Ready watch, the control plane"),
    Floor(5, ("provision",), "a ready cluster for a kind config: node image, test image, names, clean-up"),
    Floor(4, ("nodeimage", "cluster"), "offline node images; kind clusters, kind configs, CNI, API clients"),
    Floor(3, ("node", "reports"), "one node behind a transport; claims, conformance and bench reports"),
    Floor(
        2,
        ("waiting", "versions", "dockerclient", "interrupts", "heartbeat", "redact", "cli"),
        "the foundation: bounded waits, versions, Docker, signals, progress, redaction, command lines",
    ),
    Floor(1, ("errors", "paths", "layers"), "errors, where files are, this map"),
)


def floor_of(part: str) -> int | None:
    """The floor of a part directly under harness/ (None: not on the map)."""
    return next((floor.number for floor in FLOORS if part in floor.parts), None)


def markdown() -> str:
    lines = ["| floor | parts of harness/ | role |", "|---|---|---|"]
    for floor in FLOORS:
        parts = ", ".join(f"{part}/" if (HARNESS / part).is_dir() else part for part in floor.parts)
        lines.append(f"| {floor.number} | {parts} | {floor.role} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
