"""Where the harness finds its own files: kind configs, manifest fixtures, the test image, kind.

kind-configs/, fixtures/manifests/ and fixtures/images/testapp/ stay at the top of the
repository and are installed as data packages of harness (pyproject.toml's package-dir), so an
editable install and a wheel read them the same way, through importlib.resources. Both keep
them on disk (plain paths), which the test image's `go build` (a working directory) needs.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import resources
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _data_dir(package: str, *parts: str) -> Path:
    return Path(str(resources.files(package).joinpath(*parts)))


KIND_CONFIGS = _data_dir("harness.kind_configs")
MANIFEST_FIXTURES = _data_dir("harness.fixtures", "manifests")
TESTAPP_SOURCES = _data_dir("harness.fixtures", "images", "testapp")
# Where `make host-setup` installs kind (only in a checkout of this repository).
DEFAULT_KIND_BIN = PROJECT_ROOT / ".tools" / "bin" / "kind"


def find_kind(given: str | None) -> Path:
    """The kind binary: --kind-bin (a path, or a command name looked up on PATH), else `kind` on
    PATH, else this checkout's own install (.tools/bin/kind). Not checked here: Kind.check()
    says what to do when it is missing."""
    if given:
        if os.sep in given:
            return Path(given).absolute()
        found = shutil.which(given)
        return Path(found) if found else Path(given)
    on_path = shutil.which("kind")
    return Path(on_path) if on_path else DEFAULT_KIND_BIN


# Under the artifacts directory: one directory of failure diagnostics per failed test.
DIAGNOSTICS = "diagnostics"


def diagnostics_dir(artifacts: Path, nodeid: str) -> Path:
    """Where a test's failure diagnostics go (harness.plugin.diagnostics) and reports find them."""
    return artifacts / DIAGNOSTICS / re.sub(r"[^\w.-]+", "_", nodeid).strip("_")


CACHE_ENV = "STATIC_POD_HARNESS_CACHE"


def cache_dir() -> Path:
    """The harness's cache: built binaries and images' stages, cluster records, CNI configs."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "static-pod-harness"
    return Path(os.environ.get(CACHE_ENV, default))
