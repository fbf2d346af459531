"""Cached, timed build stages.

A stage has a name, a cache key (the hash of everything its output depends on) and an
output directory. When the directory holds a stamp with the same key, the stage is
skipped; otherwise it is rebuilt into a fresh directory that replaces the old one only
once the build succeeded, so a failed or interrupted build never looks finished.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

STAMP = ".stage-stamp.json"


def log(message: str) -> None:
    print(f"[node-image] {message}", file=sys.stderr, flush=True)


def cache_key(*parts: object) -> str:
    """A short stable hash of JSON-serialisable inputs (versions, file hashes, options)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def hash_files(*paths: Path) -> str:
    """Hash of the given files' contents, e.g. the builder's own sources."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class StageTimes:
    """How long each stage took, and whether it came from the cache."""

    rows: list[tuple[str, float, bool]] = field(default_factory=list)

    def report(self) -> str:
        lines = [
            f"  {name:<22} {secs:7.1f} s  {'cached' if cached else 'built'}"
            for name, secs, cached in self.rows
        ]
        total = sum(secs for _, secs, _ in self.rows)
        return "\n".join(["stage times:", *lines, f"  {'total':<22} {total:7.1f} s"])


def run_stage(times: StageTimes, name: str, out_dir: Path, key: str, build: Callable[[Path], None]) -> Path:
    """Run `build(tmp_dir)` unless `out_dir` already holds output for `key`."""
    start = time.monotonic()
    stamp = out_dir / STAMP
    if stamp.exists() and json.loads(stamp.read_text()).get("key") == key:
        times.rows.append((name, time.monotonic() - start, True))
        log(f"{name}: cached ({out_dir})")
        return out_dir
    log(f"{name}: building")
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        build(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / STAMP).write_text(json.dumps({"key": key, "stage": name}))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    elapsed = time.monotonic() - start
    times.rows.append((name, elapsed, False))
    log(f"{name}: done in {elapsed:.1f} s")
    return out_dir


def run_image_stage(
    times: StageTimes, name: str, is_built: Callable[[], bool], build: Callable[[], None]
) -> None:
    """A stage whose output is a Docker image: cached while the image exists."""
    start = time.monotonic()
    if is_built():
        times.rows.append((name, time.monotonic() - start, True))
        log(f"{name}: cached")
        return
    log(f"{name}: building")
    build()
    elapsed = time.monotonic() - start
    times.rows.append((name, elapsed, False))
    log(f"{name}: done in {elapsed:.1f} s")
