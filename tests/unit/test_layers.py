"""The layer map holds: no module of harness/ imports from a higher floor (harness.layers)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from harness.layers import FLOORS, HARNESS, floor_of, markdown


def part_of(module: str) -> str:
    """harness.cluster.kind -> cluster; harness.waiting -> waiting."""
    return module.split(".")[1]


def imported(path: Path) -> list[tuple[int, str]]:
    """The harness modules a file imports (absolute imports only: the project uses no relative ones)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "harness":  # from harness import cli
                found += [(node.lineno, f"harness.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.startswith("harness.")]


def upward_imports(root: Path) -> list[str]:
    """Each import in root (a copy of harness/) from a floor above its own, or of a part off the map."""
    wrong = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if len(relative.parts) == 1 and relative.name == "__init__.py":
            continue
        own = relative.parts[0].removesuffix(".py")
        for line, module in imported(path):
            theirs = part_of(module)
            if floor_of(own) is None or floor_of(theirs) is None:
                wrong.append(f"{relative}:{line}: {own} or {theirs} is not on harness/layers.py's map")
            elif floor_of(theirs) > floor_of(own):
                wrong.append(
                    f"{relative}:{line}: {own} (floor {floor_of(own)}) imports {module} "
                    f"(floor {floor_of(theirs)})"
                )
    return wrong


def test_no_module_imports_from_a_higher_floor():
    assert upward_imports(HARNESS) == []


def test_an_upward_import_is_caught(tmp_path: Path):
    copy = tmp_path / "harness"
    (copy / "cluster").mkdir(parents=True)
    (copy / "cluster" / "kind.py").write_text("from harness.plugin.fixtures import uses_clusters\n")
    (copy / "waiting.py").write_text("from harness import errors\nimport harness.staticpods.pods\n")
    assert upward_imports(copy) == [
        "cluster/kind.py:1: cluster (floor 4) imports harness.plugin.fixtures (floor 8)",
        "waiting.py:2: waiting (floor 2) imports harness.staticpods.pods (floor 6)",
    ]


PARTS = sorted(p.name.removesuffix(".py") for p in HARNESS.iterdir() if not p.name.startswith(("_", ".")))


@pytest.mark.parametrize("part", PARTS)
def test_every_part_of_harness_is_on_the_map(part: str):
    assert floor_of(part) is not None, f"add harness/{part} to a floor in harness/layers.py"


def test_the_map_prints_as_markdown_for_the_docs():
    printed = subprocess.run(
        [sys.executable, "-m", "harness.layers"], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == markdown()
    assert printed.splitlines()[2].startswith(f"| {FLOORS[0].number} | plugin/, tools/ |")


def test_the_docs_draw_the_map_from_this_table():
    assert markdown() in (Path(__file__).parents[2] / "docs/layout.md").read_text(), (
        "docs/layout.md: paste `python -m harness.layers`"
    )
