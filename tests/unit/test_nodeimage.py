import json
import os
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.nodeimage import binaries, build, gomodule, images, toolchain
from harness.nodeimage.binaries import BuildError, version_ldflags
from harness.nodeimage.stages import STAMP, Stages, cache_key
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

    out = tmp_path / "stage"
    cached = []
    for key in ("a", "a", "b"):
        with Stages() as stages:
            stages.run("s", out, cache_key(key), build)
        cached.append(stages.rows[0][2])
    assert cached == [False, True, False]
    assert "total" in stages.report()
    assert len(calls) == 2 and (out / "artifact").read_text() == "x"
    assert json.loads((out / STAMP).read_text())["key"] == cache_key("b")


def test_a_failed_stage_leaves_nothing_that_looks_built(tmp_path):
    out = tmp_path / "stage"

    def broken(tmp):
        (tmp / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError), Stages() as stages:
        stages.run("s", out, cache_key("a"), broken)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["stage.lock"]  # the lock file stays, empty of builds


def _k8s_module(tmp_path, go_version=None, directive="1.22.0"):
    (tmp_path / "go.mod").write_text(f"module k8s.io/kubernetes\n\ngo {directive}\n")
    if go_version is not None:
        (tmp_path / ".go-version").write_text(go_version + "\n")
    return tmp_path


def test_old_releases_build_with_upstreams_release_toolchain(tmp_path):
    chain = toolchain.choose(KubeVersion.parse("1.31.14"), _k8s_module(tmp_path, "1.24.9"))
    assert chain.gotoolchain == "go1.24.9" and ".go-version" in chain.reason


def test_without_go_version_file_the_go_directive_names_the_toolchain(tmp_path):
    assert toolchain.choose(KubeVersion.parse("1.30.14"), _k8s_module(tmp_path)).gotoolchain == "go1.22.0"
    assert toolchain.release_toolchain(_k8s_module(tmp_path, directive="1.23")).gotoolchain == "go1.23.0"


def test_recent_releases_keep_the_local_go(tmp_path):
    for text in ("1.33.13", "1.34.4", "1.35.4", "1.37.2"):
        assert toolchain.choose(KubeVersion.parse(text), _k8s_module(tmp_path, "1.24.12")).gotoolchain is None


def test_a_release_that_needs_a_newer_go_builds_with_its_own(tmp_path):
    chain = toolchain.choose(KubeVersion.parse("1.38.0-beta.0"), _k8s_module(tmp_path, "1.27.3"))
    assert chain.gotoolchain == "go1.27.3"


def test_a_release_that_needs_a_newer_go_is_downloaded_by_that_go(monkeypatch):
    calls = []

    def download(path, version, env=None):
        calls.append(env and env["GOTOOLCHAIN"])
        if env is None:
            raise gomodule.NotServed("...", "k8s.io/kubernetes@v1.38.0-beta.0 requires go >= 1.27.0 (...)")
        return gomodule.Module(path, version, Path("/mod"), Path("/mod.go.mod"))

    monkeypatch.setattr(gomodule, "download", download)
    assert binaries.kubernetes_module(KubeVersion.parse("1.38.0-beta.0")).dir == Path("/mod")
    assert calls == [None, "auto"]


def test_a_release_the_proxy_does_not_serve_is_one_line_naming_one_that_builds(monkeypatch):
    def refuse(path, version):
        raise gomodule.NotServed(
            f"cannot get Go module {path}@{version}: ...: 403 Forbidden (...)", "403 Forbidden"
        )

    monkeypatch.setattr(gomodule, "download", refuse)
    with pytest.raises(HarnessError) as error:
        binaries.kubernetes_module(KubeVersion.parse("1.37.3"))
    assert str(error.value) == (
        "Kubernetes 1.37.3 is not served by the Go module proxy (403 Forbidden): use another release; "
        "the newest 1.37 known to build is 1.37.2"
    )


def test_a_bad_go_version_file_is_reported(tmp_path):
    with pytest.raises(HarnessError, match="not a Go version"):
        toolchain.choose(KubeVersion.parse("1.31.14"), _k8s_module(tmp_path, "stable"))


def test_the_toolchain_is_set_only_inside_the_block(monkeypatch):
    monkeypatch.setenv("GOTOOLCHAIN", "local")
    with toolchain.applied(toolchain.Toolchain("go1.23.10", "test")):
        assert os.environ["GOTOOLCHAIN"] == "go1.23.10"
    assert os.environ["GOTOOLCHAIN"] == "local"
    monkeypatch.delenv("GOTOOLCHAIN")
    with toolchain.applied(toolchain.Toolchain(None, "local")):
        assert "GOTOOLCHAIN" not in os.environ
    with pytest.raises(RuntimeError), toolchain.applied(toolchain.Toolchain("go1.24.9", "test")):
        raise RuntimeError
    assert "GOTOOLCHAIN" not in os.environ


GO_BUILD_REFUSED = """go build k8s.io/kubernetes/cmd/kube-apiserver failed:
/root/go/pkg/mod/k8s.io/kubernetes@v1.31.14/pkg/scheduler/scheduler.go:37:2: k8s.io/kube-scheduler@v0.31.14: \
reading https://proxy.golang.org/k8s.io/kube-scheduler/@v/v0.31.14.zip: 403 Forbidden
\tserver response: This module version is not available.
/root/go/pkg/mod/k8s.io/kubernetes@v1.31.14/cmd/kubeadm/app/componentconfigs/kubeproxy.go:23:2: \
k8s.io/kube-proxy@v0.31.14: reading https://proxy.golang.org/k8s.io/kube-proxy/@v/v0.31.14.zip: 403 Forbidden
"""


def test_a_build_the_module_proxy_refuses_names_the_modules_in_one_line():
    with (
        pytest.raises(BuildError, match=r"^v1\.31\.14 cannot be built") as error,
        build._unserved_modules_explained(KubeVersion.parse("1.31.14")),
    ):
        raise BuildError(GO_BUILD_REFUSED)
    assert "k8s.io/kube-proxy@v0.31.14, k8s.io/kube-scheduler@v0.31.14; choose another" in str(error.value)
    assert "\n" not in str(error.value)


def test_other_build_errors_pass_unchanged():
    with (
        pytest.raises(BuildError, match="undefined: x"),
        build._unserved_modules_explained(KubeVersion.parse("1.31.14")),
    ):
        raise BuildError("go build failed:\n./a.go:1:1: undefined: x")
