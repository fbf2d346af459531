import json

import pytest

from harness.nodeimage import gomodule, images
from harness.nodeimage.binaries import version_ldflags
from harness.nodeimage.stages import STAMP, StageTimes, cache_key, run_stage
from harness.versions import KubeVersion

K8S_GOMOD = """module k8s.io/kubernetes

go 1.24.0

require (
\tgithub.com/spf13/cobra v1.9.1
\tk8s.io/api v0.0.0
\tk8s.io/utils v0.0.0-20250604170112-4c0f3b243397
)

require (
\tk8s.io/kms v0.0.0 // indirect
)
"""


def test_gomod_replaces_exactly_the_staging_modules_with_their_release():
    text = gomodule.render_gomod("x/build", "v1.34.4", K8S_GOMOD, gomodule.go_directive(K8S_GOMOD))
    assert "require k8s.io/kubernetes v1.34.4" in text
    assert "\tk8s.io/api => k8s.io/api v0.34.4" in text
    assert "k8s.io/utils =>" not in text  # a pseudo-version, not a staging module
    assert "go 1.24.0" in text


def test_version_ldflags_set_what_kubeadm_reads():
    flags = version_ldflags(KubeVersion.parse("1.34.4"), "2026-02-10T12:53:36Z")
    assert "-X k8s.io/component-base/version.gitVersion=v1.34.4" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=34" in flags


def test_wanted_images_map_binaries_to_every_name_and_skip_unbuilt_addons():
    listed = [
        "registry.k8s.io/kube-apiserver:v1.34.4",
        "registry.k8s.io/kube-proxy:v1.34.4",
        "registry.k8s.io/coredns/coredns:v1.12.1",
        "registry.k8s.io/pause:3.10.1",
        "registry.k8s.io/etcd:3.6.5-0",
    ]
    wanted = images.wanted_images(listed, "registry.k8s.io/pause:3.10")
    assert wanted == {
        "kube-apiserver": ["registry.k8s.io/kube-apiserver:v1.34.4"],
        "pause": ["registry.k8s.io/pause:3.10.1", "registry.k8s.io/pause:3.10"],
        "etcd": ["registry.k8s.io/etcd:3.6.5-0"],
    }


def test_sandbox_image_is_read_from_kinds_containerd_config():
    assert images.sandbox_image('[x]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n') == (
        "registry.k8s.io/pause:3.10"
    )


def test_a_stage_runs_once_per_key(tmp_path):
    calls = []

    def build(out):
        calls.append(out)
        (out / "artifact").write_text("x")

    times = StageTimes()
    out = tmp_path / "stage"
    run_stage(times, "s", out, cache_key("a"), build)
    run_stage(times, "s", out, cache_key("a"), build)
    assert len(calls) == 1 and (out / "artifact").read_text() == "x"
    run_stage(times, "s", out, cache_key("b"), build)
    assert len(calls) == 2
    assert json.loads((out / STAMP).read_text())["key"] == cache_key("b")
    assert [cached for _, _, cached in times.rows] == [False, True, False]
    assert "total" in times.report()


def test_a_failed_stage_leaves_nothing_that_looks_built(tmp_path):
    out = tmp_path / "stage"

    def broken(tmp):
        (tmp / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_stage(StageTimes(), "s", out, cache_key("a"), broken)
    assert not out.exists()
    assert not list(tmp_path.iterdir())
