"""The test image's tag: content-addressed, so a rebuild happens exactly when sources change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from harness.provision.testimage import TESTAPP_SOURCES, image_reference, source_digest


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    copy = tmp_path / "testapp"
    shutil.copytree(TESTAPP_SOURCES, copy)
    return copy


def test_the_sources_are_there() -> None:
    assert {"main.go", "go.mod", "Dockerfile"} <= {p.name for p in TESTAPP_SOURCES.iterdir()}


def test_reference_is_repository_and_12_hex_never_latest() -> None:
    reference = image_reference(source_digest(TESTAPP_SOURCES))
    assert re.fullmatch(r"static-pod-harness/testapp:[0-9a-f]{12}", reference)


def test_digest_depends_on_content_not_on_location(sources: Path) -> None:
    assert source_digest(sources) == source_digest(TESTAPP_SOURCES)


def test_digest_changes_with_any_source_file(sources: Path) -> None:
    before = source_digest(sources)
    with (sources / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("# changed\n")
    assert source_digest(sources) != before


def test_digest_changes_when_a_file_is_renamed(sources: Path) -> None:
    before = source_digest(sources)
    (sources / "main.go").rename(sources / "app.go")
    assert source_digest(sources) != before


def test_digest_changes_with_the_build_recipe(monkeypatch: pytest.MonkeyPatch, sources: Path) -> None:
    before = source_digest(sources)
    monkeypatch.setattr("harness.provision.testimage.GO_BUILD_ARGS", ("build", "-o"))
    assert source_digest(sources) != before
