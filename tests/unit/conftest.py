"""Fixtures shared by the unit tests that run the plugin in an inner pytest."""

from pathlib import Path

import pytest

from harness.plugin.options import OPTIONS


@pytest.fixture(autouse=True)
def _without_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings a caller exports (`make test ARTIFACTS=dir`, Prow's $ARTIFACTS) are not the tests'."""
    for option in OPTIONS:
        if option.env:
            monkeypatch.delenv(option.env, raising=False)


@pytest.fixture
def kind_bin(tmp_path: Path) -> str:
    """The --kind-bin option for an executable standing in for kind: those runs never call it."""
    fake = tmp_path / "kind"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    return f"--sph-kind-bin={fake}"
