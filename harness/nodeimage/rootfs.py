"""The node's root filesystem: Debian packages plus kind's base-image files.

kind's own base image (images/base/Dockerfile in sigs.k8s.io/kind) builds containerd,
runc, crictl and the CNI plugins from source and installs Debian packages on top of
debian:bookworm-slim; neither the base image nor debian:* can be pulled here. This stage
makes the same tree with debootstrap from Debian's archive, takes kind's base-image files
from the sigs.k8s.io/kind Go module as installed in the module cache, and repeats the
Dockerfile's set-up steps. containerd is not Debian's (trixie has 1.7; kind's release runs
2.x): binaries.py builds the release kind's base image builds, and the node image gets it.
Debian puts runc in /usr/sbin and the CNI plugins in /usr/lib/cni; kind expects
/usr/local/sbin and /opt/cni/bin, so those get symlinks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness.errors import HarnessError
from harness.nodeimage import proc
from harness.nodeimage.fstree import remove_tree
from harness.nodeimage.progress import doing

SUITE = "trixie"
PACKAGES = [
    "systemd",
    "dbus",
    "conntrack",
    "iptables",
    "nftables",
    "iproute2",
    "ethtool",
    "util-linux",
    "mount",
    "kmod",
    "libseccomp2",
    "pigz",
    "e2fsprogs",
    "bash",
    "ca-certificates",
    "curl",
    "jq",
    "procps",
    "socat",
    "runc",
    "containernetworking-plugins",
]
# Where Debian installs what kind's units and configs expect elsewhere.
SYMLINKS = {
    "/usr/local/sbin/runc": "/usr/sbin/runc",
    "/sbin/init": "/usr/lib/systemd/systemd",
}
CNI_PLUGINS = ("host-local", "loopback", "ptp", "portmap", "bridge")


class RootfsError(HarnessError):
    pass


def mirror() -> str:
    return os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")


def debootstrap(target: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise RootfsError(
            "debootstrap is not installed: run `make host-setup` (or apt-get install debootstrap)"
        )
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(target),
        mirror(),
    ]
    done = proc.run(cmd, status=debootstrap_status)
    if done.returncode != 0:
        log_file = target / "debootstrap" / "debootstrap.log"
        detail = log_file.read_text()[-2000:] if log_file.exists() else done.stderr[-2000:]
        raise RootfsError(f"debootstrap {SUITE} from {mirror()} failed:\n{detail}")


def debootstrap_status(stdout: str, stderr: str) -> str:
    """debootstrap's latest `I: ...` line (Retrieving, Validating, Unpacking, Configuring ...)."""
    said = [line for line in (stdout + "\n" + stderr).splitlines() if line.startswith(("I: ", "W: "))]
    return f"debootstrap {SUITE}: {said[-1][3:]}" if said else f"debootstrap {SUITE}: starting"


def copy_tree(src: Path, dst: Path, mode: int) -> None:
    """Copy the files directly inside `src` into `dst` with `mode` (like Dockerfile COPY --chmod)."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_file():
            shutil.copyfile(item, dst / item.name)
            (dst / item.name).chmod(mode)


def install_kind_files(root: Path, kind_files: Path) -> None:
    """The COPY lines of kind's base Dockerfile."""
    copy_tree(kind_files / "usr/local/bin", root / "usr/local/bin", 0o755)
    copy_tree(kind_files / "kind", root / "kind", 0o644)
    copy_tree(kind_files / "kind/bin", root / "kind/bin", 0o755)
    (root / "kind/bin").chmod(0o755)
    copy_tree(kind_files / "etc", root / "etc", 0o644)
    for sub in ("containerd", "default", "sysctl.d", "systemd/system", "systemd/system/kubelet.service.d"):
        copy_tree(kind_files / "etc" / sub, root / "etc" / sub, 0o644)


def chroot(root: Path, script: str) -> str:
    ran = subprocess.run(
        ["chroot", str(root), "/bin/bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True
    )
    if ran.returncode != 0:
        raise RootfsError(f"in the node rootfs, `{script.strip()}` failed: {ran.stderr.strip()}")
    return ran.stdout


def configure(root: Path) -> None:
    """The RUN lines of kind's base Dockerfile, adapted to Debian's file locations."""
    for link, target in SYMLINKS.items():
        path = root / link.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)
    cni = root / "opt/cni/bin"
    cni.mkdir(parents=True, exist_ok=True)
    for plugin in CNI_PLUGINS:
        (cni / plugin).symlink_to(f"/usr/lib/cni/{plugin}")
    chroot(
        root,
        """
        find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
        rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
              /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
              /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
        echo ReadKMsg=no >> /etc/systemd/journald.conf
        systemctl enable kubelet.service containerd.service undo-mount-hacks.service 2>/dev/null
        systemctl mask systemd-binfmt.service 2>/dev/null
        mkdir -p /etc/kubernetes/manifests
        apt-get clean
        rm -rf /var/lib/apt/lists/* /var/log/*.log /debootstrap
    """,
    )


def build_rootfs_tar(out_dir: Path, kind_files: Path) -> Path:
    """Build the tree under `out_dir` and pack it as rootfs.tar (the tree is removed)."""
    root = out_dir / "rootfs"
    debootstrap(root)
    with doing("kind's base-image files and set-up steps"):
        install_kind_files(root, kind_files)
        configure(root)
    tar = out_dir / "rootfs.tar"
    with doing(
        lambda: f"tar of the rootfs: {tar.stat().st_size / 1e6:.0f} MB so far" if tar.exists() else "tar"
    ):
        packed = proc.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(tar), "."])
    if packed.returncode != 0:
        raise RootfsError(f"packing the rootfs failed: {packed.stderr.strip()[-500:]}")
    remove_tree(root)
    return tar
