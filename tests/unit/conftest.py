"""Fixtures shared by the unit tests that run the plugin in an inner pytest."""

from pathlib import Path

import pytest


@pytest.fixture
def kind_bin(tmp_path: Path) -> str:
    """The --kind-bin option for an executable standing in for kind: those runs never call it."""
    fake = tmp_path / "kind"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    return f"--sph-kind-bin={fake}"
