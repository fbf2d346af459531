"""What the wheel ships: every harness package, the kind configs, the manifest fixtures and the test
image's sources (read through importlib.resources, so an installed plugin never needs a checkout)."""

import importlib.metadata
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.nodeimage.standins import STAND_IN_DIRS
from harness.paths import KIND_CONFIGS, MANIFEST_FIXTURES, PROJECT_ROOT, TESTAPP_SOURCES

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_harness_package_is_listed_for_the_wheel():
    on_disk = {
        ".".join(path.parent.relative_to(PROJECT_ROOT).parts)
        for path in (PROJECT_ROOT / "harness").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert on_disk <= set(SETUPTOOLS["packages"])


def test_data_stays_at_the_top_of_the_repository_and_is_read_from_the_installed_package():
    assert KIND_CONFIGS == PROJECT_ROOT / "kind-configs"
    assert MANIFEST_FIXTURES == PROJECT_ROOT / "fixtures" / "manifests"
    assert TESTAPP_SOURCES == PROJECT_ROOT / "fixtures" / "images" / "testapp"
    assert (KIND_CONFIGS / "single-node.yaml").is_file()
    assert (MANIFEST_FIXTURES / "testapp.yaml").is_file()
    assert (TESTAPP_SOURCES / "Dockerfile").is_file()


def test_the_go_stand_ins_ship_in_the_wheel():
    assert "standins/**/*" in SETUPTOOLS["package-data"]["harness.nodeimage"]
    for directory in STAND_IN_DIRS.values():
        assert (directory / "go.mod").is_file()


def test_the_lint_tool_is_pinned_exactly():
    """A new ruff release must not change `make lint`'s verdict with no change of code."""
    (ruff,) = [d for d in PYPROJECT["project"]["optional-dependencies"]["dev"] if d.startswith("ruff")]
    assert ruff.startswith("ruff==")


def test_the_licence_is_the_full_apache_2_text_under_the_projects_notice():
    text = (PROJECT_ROOT / "LICENSE").read_text()
    assert text.startswith("static-pod-harness\nCopyright ")
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    for heading in (
        "1. Definitions.",
        "4. Redistribution.",
        "9. Accepting Warranty or Additional Liability.",
    ):
        assert heading in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_package_says_it_is_a_pytest_plugin_and_ships_the_readme():
    assert "Framework :: Pytest" in PYPROJECT["project"]["classifiers"]
    assert (PROJECT_ROOT / PYPROJECT["project"]["readme"]).is_file()


def table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of each row of the first table under `## heading`."""
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]


def test_docs_dependencies_names_each_dependencys_licence_and_each_private_apis_bound():
    page = (PROJECT_ROOT / "docs/dependencies.md").read_text()
    lock = (PROJECT_ROOT / "requirements/lock.txt").read_text()
    requirements = {
        canonicalize_name(r.name): r for r in map(Requirement, PYPROJECT["project"]["dependencies"])
    }
    licences = {
        canonicalize_name(name): licence for name, licence, _ in table_rows(page, "Runtime dependencies")
    }
    assert set(licences) == set(requirements)
    for name in licences:
        metadata = importlib.metadata.metadata(name)
        declared = metadata["License-Expression"] or metadata["License"]
        if f"\n{name}=={metadata['Version']} " in f"\n{lock}".lower():  # at the lock's version
            assert declared in licences[name], (name, declared)
    assert licences["pytest-kind"].startswith("GPL-3.0-or-later")
    for _, distribution, _, bound in table_rows(page, "Private APIs"):
        (upper,) = [
            s for s in requirements[canonicalize_name(distribution.split()[0])].specifier if s.operator == "<"
        ]
        assert bound == f"`{upper}`"
