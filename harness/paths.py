"""Where the harness finds its own files: kind configs, manifest fixtures, the test image, kind."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KIND_CONFIGS = PROJECT_ROOT / "kind-configs"
MANIFEST_FIXTURES = PROJECT_ROOT / "fixtures" / "manifests"
TESTAPP_SOURCES = PROJECT_ROOT / "fixtures" / "images" / "testapp"
# Where `make host-setup` installs kind.
DEFAULT_KIND_BIN = PROJECT_ROOT / ".tools" / "bin" / "kind"
