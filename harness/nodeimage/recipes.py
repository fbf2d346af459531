"""Revisions of the code that decides what each cached stage contains.

A stage's cache key holds the revision of the recipe that makes its output, not a hash of
the modules that run it: progress lines, locks and clean-up change those modules without
changing what they build, and must not invalidate every cached binary and node image. Bump
a revision (to any new value) with a change that alters what a stage produces: build flags,
packages, files, image contents. The first values are the hashes of the modules named
below that the keys held until then, so the caches made before stay valid.
"""

from __future__ import annotations

GO = "ae205982f9aaccf9"  # binaries.py, gomodule.py: the throw-away modules, flags, pause
ROOTFS = "containerd-and-its-spec-elsewhere"  # rootfs.py: packages, kind's files, the Dockerfile's steps
IMAGES = "fbdf3c42fda7714f"  # images.py: one FROM scratch image per binary, names (index.json too)
ASSEMBLE = "containerd-and-cri-base-spec"  # assemble.py: the base image's changes, the node's files
