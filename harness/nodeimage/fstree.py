"""Removing a build tree without harming what is mounted into it.

debootstrap mounts proc, sys and sometimes dev under its target; a build that was killed
leaves them there, and a plain recursive delete then walks into the host's /proc, /sys or
/dev. `remove_tree` first detaches every mount at or below the tree (from
/proc/self/mountinfo, deepest first), then deletes without ever entering another device: a
mount that could not be detached is left alone and reported.
"""

from __future__ import annotations

import ctypes
import os
import re
import stat
from pathlib import Path

from harness.errors import HarnessError

MOUNTINFO = Path("/proc/self/mountinfo")
_MNT_DETACH = 2
_ESCAPE = re.compile(r"\\([0-7]{3})")


class TreeError(HarnessError):
    pass


def mounts_under(root: Path, mountinfo: str) -> list[Path]:
    """Mount points at or below `root` in mountinfo text (proc(5)), deepest first."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        point = Path(_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4]))
        if point == root or root in point.parents:
            points.append(point)
    return sorted(points, key=lambda p: len(p.parts), reverse=True)


def detach(point: Path) -> None:
    """umount2(point, MNT_DETACH): gone from the tree at once, even while something uses it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(os.fsencode(point), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise TreeError(f"cannot unmount {point} ({os.strerror(err)}): run `umount -l {point}` as root")


def remove_tree(root: Path) -> None:
    """Remove `root` and all below it; mounts under it are detached first, no other device is entered."""
    if not root.exists() and not root.is_symlink():
        return
    root = root.parent.resolve() / root.name
    for point in mounts_under(root, MOUNTINFO.read_text()):
        detach(point)
    skipped: list[Path] = []
    _remove(root, os.lstat(root).st_dev, skipped)
    if skipped:
        raise TreeError(
            f"{skipped[0]} is on another filesystem (still mounted?) and was left, with the tree "
            f"above it: unmount it (umount -l {skipped[0]}), then remove {root}"
        )


def _remove(path: Path, device: int, skipped: list[Path]) -> None:
    info = os.lstat(path)
    if info.st_dev != device:
        skipped.append(path)
        return
    if not stat.S_ISDIR(info.st_mode):
        path.unlink()
        return
    before = len(skipped)
    with os.scandir(path) as entries:
        children = [Path(entry.path) for entry in entries]
    for child in children:
        _remove(child, device, skipped)
    if len(skipped) == before:
        path.rmdir()
