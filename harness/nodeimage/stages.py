"""Cached, timed, locked build stages.

A stage has a name, a cache key (the hash of everything its output depends on) and an
output: a directory, or a Docker image. When the directory holds a stamp with the same key
(or the image exists), the stage is skipped; otherwise it is rebuilt into a fresh
directory that replaces the old one only once the build succeeded, so a failed or
interrupted build never looks finished and leaves nothing behind.

Each stage is locked (flock on a file beside its output) from its check until the build
ends, so two builds at once never remove each other's directories and one waits, with a
line that says so, while the other makes what both need. Every build takes the locks in
the same order (the stages' order), so two builds never wait for each other.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

from harness.errors import HarnessError
from harness.interrupts import signals_held
from harness.nodeimage.fstree import remove_tree
from harness.nodeimage.progress import heartbeat, log

STAMP = ".stage-stamp.json"


class StageError(HarnessError):
    pass


def cache_key(*parts: object) -> str:
    """A short stable hash of JSON-serialisable inputs (versions, recipe revisions, options)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def out_of_space(exc: BaseException) -> bool:
    """ENOSPC from this process, or "no space left on device" from go, tar, dockerd."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    return "no space left on device" in str(exc).lower()


@contextlib.contextmanager
def locked(lock: Path, what: str) -> Iterator[None]:
    """An exclusive flock on `lock` for the block; while another build holds it, say so and wait."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "?"
            log(f"{what}: another build (pid {holder}) holds it; waiting for that build to finish")
            with heartbeat(f"{what}: waiting for pid {holder}"):
                fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        yield


class Stages:
    """The stages of one build: how long each took, and their locks, held until the build ends
    (so that no other build replaces an output this one still reads)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, bool]] = []
        self._locks = contextlib.ExitStack()

    def __enter__(self) -> Stages:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._locks.close()

    def run(self, name: str, out_dir: Path, key: str, build: Callable[[Path], None]) -> Path:
        """Run `build(tmp_dir)` unless `out_dir` already holds output for `key`."""
        start = time.monotonic()
        self._locks.enter_context(locked(out_dir.with_name(out_dir.name + ".lock"), name))
        stamp = out_dir / STAMP
        if stamp.exists() and json.loads(stamp.read_text()).get("key") == key:
            self.rows.append((name, time.monotonic() - start, True))
            log(f"{name}: cached ({out_dir})")
            return out_dir
        log(f"{name}: building")
        tmp = out_dir.with_name(out_dir.name + ".partial")
        remove_tree(tmp)  # what a killed build left, mounts included
        tmp.mkdir(parents=True)
        try:
            with heartbeat(name):
                build(tmp)
        except BaseException as exc:
            with signals_held(f"removing the unfinished {name}"):
                remove_tree(tmp)
            if out_of_space(exc):
                raise StageError(_full(name, out_dir.parent)) from None
            raise
        (tmp / STAMP).write_text(json.dumps({"key": key, "stage": name}))
        remove_tree(out_dir)
        tmp.rename(out_dir)
        self._done(name, start)
        return out_dir

    def run_image(
        self, name: str, lock: Path, is_built: Callable[[], bool], build: Callable[[], None]
    ) -> None:
        """A stage whose output is a Docker image: cached while the image exists. `build` removes
        whatever it made before it failed."""
        start = time.monotonic()
        self._locks.enter_context(locked(lock, name))
        if is_built():
            self.rows.append((name, time.monotonic() - start, True))
            log(f"{name}: cached")
            return
        log(f"{name}: building")
        try:
            with heartbeat(name):
                build()
        except Exception as exc:
            if out_of_space(exc):
                raise StageError(_full(name, None)) from None
            raise
        self._done(name, start)

    def _done(self, name: str, start: float) -> None:
        seconds = time.monotonic() - start
        self.rows.append((name, seconds, False))
        log(f"{name}: done in {seconds:.1f} s")

    def report(self) -> str:
        lines = [
            f"  {name:<22} {secs:7.1f} s  {'cached' if cached else 'built'}"
            for name, secs, cached in self.rows
        ]
        total = sum(secs for _, secs, _ in self.rows)
        return "\n".join(["stage times:", *lines, f"  {'total':<22} {total:7.1f} s"])


def _full(name: str, where: Path | None) -> str:
    disk = (
        f"free space on the disk of {where} (df -h {where}) or point STATIC_POD_HARNESS_CACHE at a larger one"
        if where
        else "free space on Docker's disk (docker system df; docker info -f '{{.DockerRootDir}}')"
    )
    return f"{name}: no space left on device: {disk}, then build again (nothing of this stage was kept)"
