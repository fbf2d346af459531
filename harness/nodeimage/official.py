"""The kindest/node images that kind v0.30.0 (harness.versions.KIND_VERSION) publishes, pinned by digest.

Copied from kind's release notes for v0.30.0, "Images pre-built for this release"
(https://github.com/kubernetes-sigs/kind/releases/tag/v0.30.0), which also say: "You _must_ use the
`@sha256` digest to guarantee an image built for this release". kind supports a node image only with
the release it was built for, so this table changes with KIND_VERSION: choose.official_image checks
that kind's own default image (pkg/apis/config/defaults/image.go of the pinned module) is in it.
"""

from __future__ import annotations

PUBLISHED: dict[str, str] = {
    "v1.34.0": "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a",
    "v1.33.4": "kindest/node:v1.33.4@sha256:25a6018e48dfcaee478f4a59af81157a437f15e6e140bf103f85a2e7cd0cbbf2",
    "v1.32.8": "kindest/node:v1.32.8@sha256:abd489f042d2b644e2d033f5c2d900bc707798d075e8186cb65e3f1367a9d5a1",
    "v1.31.12": "kindest/node:v1.31.12@sha256:0f5cc49c5e73c0c2bb6e2df56e7df189240d83cf94edfa30946482eb08ec57d2",  # noqa: E501
}
