import platform
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.upgrade import binary
from harness.upgrade.binary import check_order, elf_machine, parse_kubelet_version, validate_kubelet_binary
from harness.versions import KubeVersion


def elf_header(machine: int, *, elf_class: int = 2, order: str = "<", e_type: int = 2) -> bytes:
    ident = b"\x7fELF" + bytes([elf_class, 1 if order == "<" else 2, 1]) + bytes(9)
    return ident + struct.pack(f"{order}HH", e_type, machine) + bytes(44)


def executable(tmp_path: Path, content: bytes, name: str = "kubelet") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    path.chmod(0o755)
    return path


@pytest.fixture
def prints(monkeypatch):
    """Make `PATH --version` print `text` (and exit with `code`) without running anything."""

    def fake(text: str, code: int = 0) -> list[list[str]]:
        calls: list[list[str]] = []

        def run(cmd, **_):
            calls.append(cmd)
            return subprocess.CompletedProcess(cmd, code, stdout=text, stderr="")

        monkeypatch.setattr(binary.subprocess, "run", run)
        return calls

    return fake


def test_elf_machine_reads_the_header():
    assert elf_machine(elf_header(62)) == 62
    assert elf_machine(elf_header(183, order=">")) == 183
    assert elf_machine(elf_header(62, e_type=3)) == 62  # a position-independent executable
    assert elf_machine(elf_header(62, e_type=1)) is None  # an object file
    assert elf_machine(elf_header(3, elf_class=1)) is None  # 32-bit
    assert elf_machine(b"#!/bin/sh\necho Kubernetes v1.31.14\n") is None
    assert elf_machine(b"\x7fELF") is None


def test_a_real_host_binary_has_the_hosts_machine():
    with open(shutil.which("true"), "rb") as file:
        assert elf_machine(file.read(64)) == binary.ELF_MACHINES[platform.machine()]


def test_a_kubelet_for_the_nodes_architecture_is_accepted(tmp_path, prints):
    calls = prints("Kubernetes v1.31.14\n")
    path = executable(tmp_path, elf_header(62))
    found = validate_kubelet_binary(path, "x86_64")
    assert found.version == KubeVersion(1, 31, 14) and found.reported == "v1.31.14"
    assert calls == [[str(path), "--version"]]


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: d / "absent", "no such file"),
        (lambda d: d, "not a regular file"),
        (lambda d: executable(d, b"#!/bin/sh\n"), "not an ELF executable"),
        (lambda d: executable(d, elf_header(183)), "built for aarch64, the node runs x86_64"),
        (lambda d: executable(d, elf_header(243)), "built for riscv64"),
    ],
)
def test_each_bad_binary_gets_one_line(tmp_path, setup, message, prints):
    prints("Kubernetes v1.31.14")
    with pytest.raises(HarnessError, match=message) as error:
        validate_kubelet_binary(setup(tmp_path), "x86_64")
    assert "\n" not in str(error.value)


def test_a_file_without_execute_permission_says_chmod(tmp_path):
    path = executable(tmp_path, elf_header(62))
    path.chmod(0o644)
    with pytest.raises(HarnessError, match=r"not executable; run chmod \+x"):
        validate_kubelet_binary(path, "x86_64")


def test_an_unknown_node_architecture_is_refused(tmp_path):
    with pytest.raises(HarnessError, match="'s390x' is not one of"):
        validate_kubelet_binary(executable(tmp_path, elf_header(62)), "s390x")


def test_a_binary_that_is_no_kubelet_is_refused(tmp_path, prints):
    prints("kubectl controls the Kubernetes cluster manager.\n\nUsage:")
    with pytest.raises(HarnessError, match=r"not 'Kubernetes v1\.x\.y': is it a kubelet"):
        validate_kubelet_binary(executable(tmp_path, elf_header(62)), "amd64")
    prints("", code=2)
    with pytest.raises(HarnessError, match="--version` failed: exit code 2"):
        validate_kubelet_binary(executable(tmp_path, elf_header(62)), "amd64")


def test_a_binary_that_cannot_run_is_refused(tmp_path, monkeypatch):
    def run(cmd, **_):
        raise subprocess.TimeoutExpired(cmd, 30)

    monkeypatch.setattr(binary.subprocess, "run", run)
    with pytest.raises(HarnessError, match="did not run"):
        validate_kubelet_binary(executable(tmp_path, elf_header(62)), "x86_64")


def test_development_builds_report_their_suffix():
    version, reported = parse_kubelet_version("Kubernetes v1.35.0-alpha.1.234+0a1b2c3d-dirty\n")
    assert version == KubeVersion(1, 35, 0) and reported == "v1.35.0-alpha.1.234+0a1b2c3d-dirty"


@pytest.mark.parametrize(
    "old, new",
    [("1.34.3", "1.34.4"), ("1.30.14", "1.31.14"), ("1.32.13", "1.35.4"), ("1.33.13", "1.34.4")],
)
def test_supported_orders(old, new):
    check_order(KubeVersion.parse(old), KubeVersion.parse(new))


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("1.34.4", "1.34.4", "not older than TO"),
        ("1.35.4", "1.34.4", "not older than TO"),
        ("1.31.14", "1.31.0", "not older than TO"),
        ("1.30.14", "1.34.4", "4 minors older .* at most 3 .* use FROM 1.31.x or later"),
    ],
)
def test_orders_the_check_cannot_set_up(old, new, message):
    with pytest.raises(HarnessError, match=message) as error:
        check_order(KubeVersion.parse(old), KubeVersion.parse(new))
    assert "\n" not in str(error.value)
