"""What the wheel ships: every harness package, the kind configs, the manifest fixtures and the test
image's sources (read through importlib.resources, so an installed plugin never needs a checkout)."""

import tomllib

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


def test_the_lint_tool_is_pinned_exactly():
    """A new ruff release must not change `make lint`'s verdict with no change of code."""
    (ruff,) = [d for d in PYPROJECT["project"]["optional-dependencies"]["dev"] if d.startswith("ruff")]
    assert ruff.startswith("ruff==")
