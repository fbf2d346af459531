"""A stand-in replaces a required module only where the module proxy refuses it, and says so."""

from pathlib import Path

import pytest

from harness.nodeimage import build, gomodule, standins
from harness.paths import CACHE_ENV

GOMOD_138 = "module k8s.io/kubernetes\n\ngo 1.27.0\n\nrequire (\n\tsigs.k8s.io/iptables-wrappers v1.0.0\n)\n"
IPTABLES = "sigs.k8s.io/iptables-wrappers"
GO = ("go1.27.3", "x86_64", "1")


@pytest.fixture(autouse=True)
def _cache(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


def _proxy(monkeypatch: pytest.MonkeyPatch, refuses: set[str], answer: str = "403 Forbidden") -> list[str]:
    asked: list[str] = []

    def download(path: str, version: str, **_: object) -> gomodule.Module:
        asked.append(f"{path}@{version}")
        if path in refuses:
            raise gomodule.NotServed("not served", answer)
        return gomodule.Module(path, version, Path("/nonexistent"), Path("/nonexistent/go.mod"))

    monkeypatch.setattr(gomodule, "download", download)
    return asked


def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    def download(path: str, version: str, **_: object) -> gomodule.Module:
        raise gomodule.GoModuleError("the Go module proxy does not answer")

    monkeypatch.setattr(gomodule, "download", download)


def test_a_refused_module_is_built_from_its_stand_in(monkeypatch):
    asked = _proxy(monkeypatch, refuses={IPTABLES})
    [stand_in] = standins.needed(GOMOD_138)
    assert asked == [f"{IPTABLES}@v1.0.0"]
    assert str(stand_in) == f"{IPTABLES}@v1.0.0"
    assert (stand_in.directory / "go.mod").read_text().count(f"module {IPTABLES}\n") == 1
    gomod = gomodule.render_gomod(
        "x/build", "v1.38.0-beta.0", GOMOD_138, "1.27.0", local={IPTABLES: Path("/s")}
    )
    assert f"\t{IPTABLES} => /s" in gomod


def test_a_single_line_require_is_read_too(monkeypatch):
    _proxy(monkeypatch, refuses={IPTABLES})
    [stand_in] = standins.needed(f"module k8s.io/kubernetes\n\nrequire {IPTABLES} v1.0.0\n")
    assert stand_in.version == "v1.0.0"


def test_a_failure_other_than_a_refusal_stops_the_build(monkeypatch):
    _proxy(monkeypatch, refuses={IPTABLES}, answer="verifying module: checksum mismatch")
    with pytest.raises(gomodule.NotServed):
        standins.needed(GOMOD_138)


def test_a_refusal_seen_before_needs_no_proxy_and_none_seen_needs_one(monkeypatch):
    _no_proxy(monkeypatch)
    with pytest.raises(gomodule.GoModuleError):
        standins.needed(GOMOD_138)
    _proxy(monkeypatch, refuses={IPTABLES})
    standins.needed(GOMOD_138)
    _no_proxy(monkeypatch)
    assert [str(s) for s in standins.needed(GOMOD_138)] == [f"{IPTABLES}@v1.0.0"]


def test_a_served_or_unrequired_module_gets_no_stand_in(monkeypatch):
    _proxy(monkeypatch, refuses=set())
    assert standins.needed(GOMOD_138) == []
    asked = _proxy(monkeypatch, refuses={IPTABLES})
    assert standins.needed("module k8s.io/kubernetes\n\ngo 1.26.0\n") == []
    assert asked == []


def test_a_stand_in_changes_the_kubernetes_cache_key_and_none_keeps_the_old_one(monkeypatch, tmp_path):
    assert build.kubernetes_key("v1.34.4", GO, []) == build.kubernetes_key("v1.34.4", GO)
    (tmp_path / "go.mod").write_text("module sigs.k8s.io/iptables-wrappers\n")
    stand_in = standins.StandIn(IPTABLES, "v1.0.0", tmp_path)
    with_stand_in = build.kubernetes_key("v1.38.0-beta.0", GO, [stand_in])
    assert with_stand_in != build.kubernetes_key("v1.38.0-beta.0", GO)
    (tmp_path / "go.mod").write_text("module sigs.k8s.io/iptables-wrappers\n\ngo 1.24\n")
    assert build.kubernetes_key("v1.38.0-beta.0", GO, [stand_in]) != with_stand_in


def test_a_run_on_an_image_with_a_stand_in_names_it():
    image = "static-pod-harness/node:v1.38.0-beta.0"
    assert standins.describe(image, {}) == image
    described = standins.describe(image, {standins.LABEL_STAND_INS: f"{IPTABLES}@v1.0.0"})
    assert described == f"{image} (built with a stand-in for {IPTABLES}@v1.0.0)"
