"""host/setup.sh and host/teardown.sh, run for real against a fake machine.

Every host path goes under a temporary root (HOST_SETUP_ROOT) and PATH holds only fake
dpkg-query, apt-get, docker, dockerd, systemctl, sysctl, id and runc, plus links to the
few real tools the scripts use: this machine's Docker, apt and sysctls are out of reach.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import textwrap
from pathlib import Path

import pytest

HOST = Path(__file__).parents[2] / "host"
WRAPPER = "/usr/local/libexec/static-pod-harness/runc-caps-wrapper"
REGISTRATION = f'{{"runtimes": {{"caps-runc": {{"path": "{WRAPPER}"}}}}, "default-runtime": "caps-runc"}}\n'
REAL_TOOLS = [
    "bash",
    "sh",
    "awk",
    "cat",
    "chmod",
    "cmp",
    "cp",
    "dirname",
    "grep",
    "head",
    "install",
    "ln",
    "ls",
    "mkdir",
    "mktemp",
    "mv",
    "nohup",
    "readlink",
    "rm",
    "rmdir",
    "sed",
    "seq",
    "sleep",
    "tail",
    "timeout",
    "touch",
    "tr",
]
# Fake commands; $FAKE holds the fake machine's state (installed packages, daemon running, ...).
FAKES = {
    "dpkg-query": """
        shift 2  # -W -f=...
        for p in "$@"; do grep -qx "$p" "$FAKE/installed" 2>/dev/null && echo "$p installed"; done
        exit 0""",
    "apt-get": """
        echo "apt-get $*" >>"$FAKE/calls"
        sim= action= pkgs=()
        for a in "$@"; do
          case $a in -s) sim=1;; -*) ;; install|remove|update) action=$a;; *) pkgs+=("$a");; esac
        done
        if [ "$action" = install ]; then
          for p in "${pkgs[@]}"; do
            [ "$p" != "${APT_FAILS:-}" ] || { echo "E: Unable to locate package $p"; exit 100; }
          done
          for p in "${pkgs[@]}"; do
            # what apt installs with it ($FAKE/pulls: "pkg dependency"), as dpkg says it (CR LF)
            while read -r pkg dep; do
              [ "$pkg" != "$p" ] || grep -qx -- "$dep" "$FAKE/installed" || {
                printf 'Selecting previously unselected package %s:amd64.\r\n' "$dep"
                echo "$dep" >>"$FAKE/installed"; }
            done < <(cat "$FAKE/pulls" 2>/dev/null)
            printf 'Selecting previously unselected package %s.\r\n' "$p"
            echo "$p" >>"$FAKE/installed"
            if [ "$p" = docker.io ]; then
              install -m 755 "$FAKE/docker-cli" "$FAKE/bin/docker"
              install -m 755 "$FAKE/dockerd-bin" "$FAKE/bin/dockerd"
            fi
          done
        elif [ "$action" = remove ]; then
          # what goes: the packages, and those installed that depend on one ($FAKE/depends: "pkg dependency")
          gone=()
          for p in "${pkgs[@]}"; do grep -qx -- "$p" "$FAKE/installed" && gone+=("$p"); done
          while read -r pkg dep; do
            for p in "${pkgs[@]}"; do
              [ "$dep" != "$p" ] || ! grep -qx -- "$pkg" "$FAKE/installed" || gone+=("$pkg")
            done
          done < <(cat "$FAKE/depends" 2>/dev/null)
          if [ -n "$sim" ]; then
            echo "Reading package lists..."
            for g in "${gone[@]}"; do echo "Remv $g [1.0-1]"; done
            exit 0
          fi
          if [ -e "$FAKE/remove-fails" ]; then
            echo "E: Sub-process /usr/bin/dpkg returned an error code (1)"; exit 100
          fi
          for g in "${gone[@]}"; do
            grep -vx -- "$g" "$FAKE/installed" >"$FAKE/left" || true; mv "$FAKE/left" "$FAKE/installed"
          done
        fi""",
    "systemctl": """echo "systemctl $*" >>"$FAKE/calls"; [ "$1 $2" = "start docker" ] && dockerd; exit 0""",
    "sysctl": """
        if [ "$1" = -n ]; then cat "$FAKE/sysctl/$2"; exit; fi
        if [ -n "${SYSCTL_FAILS:-}" ]; then
          echo "sysctl: permission denied on key ${3%%=*}" >&2; exit 1
        fi
        echo "sysctl $*" >>"$FAKE/calls"; kv=${3:-$2}; echo "${kv#*=}" >"$FAKE/sysctl/${kv%%=*}" """,
    "id": """case $1 in -u) cat "$FAKE/uid";; -un) echo tester;; esac""",
    "runc": "exit 0",
}
DOCKER_CLI = """#!/bin/bash
echo "docker $*" >>"$FAKE/calls"
case $1 in
  info) [ -e "$FAKE/running" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
        [[ $* == *Runtimes* ]] && grep -q caps-runc "$FAKE/running" && echo "caps-runc runc"
        exit 0;;
  version) echo 20.10.24;;
  context) cat "$FAKE/context" 2>/dev/null || echo default;;
esac
"""
DOCKERD = """#!/bin/bash
echo "dockerd $*" >>"$FAKE/calls"
ls /proc/$$/fd >"$FAKE/dockerd-fds"  # the files it holds open
# what the daemon runs with until it restarts
cat "$FAKE/root/etc/docker/daemon.json" >"$FAKE/running" 2>/dev/null || true
"""


def dockerd_log(machine: Machine) -> Path:
    return machine.root / "var/log/dockerd.log"


class Machine:
    """A fake host: its root, its commands, what they were asked to do."""

    def __init__(self, base: Path) -> None:
        self.fake = base / "fake"
        self.root = self.fake / "root"
        self.bin = self.fake / "bin"
        for directory in (self.bin, self.root / "proc/self", self.root / "proc/1", self.fake / "sysctl"):
            directory.mkdir(parents=True)
        (self.root / "var/log").mkdir(parents=True)
        self.tools = base / "tools"
        self.tools.mkdir()
        for tool in REAL_TOOLS:
            (self.tools / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
        for name, body in FAKES.items():
            self._script(self.bin / name, "#!/bin/bash\n" + textwrap.dedent(body).strip() + "\n")
        self._script(self.fake / "docker-cli", DOCKER_CLI)
        self._script(self.fake / "dockerd-bin", DOCKERD)
        self.kind_bin = base / "kind-bin"
        self._script(self.kind_bin / "kind", "#!/bin/sh\necho 'kind v0.30.0 go1.24 linux/amd64'\n")
        (self.root / "proc/self/status").write_text("CapBnd:\t000001fffeffffff\n")  # no CAP_SYS_RESOURCE
        (self.root / "proc/1/comm").write_text("process_api\n")  # no init system
        (self.fake / "uid").write_text("0\n")
        (self.fake / "installed").write_text("")
        (self.fake / "calls").write_text("")
        self.sysctl = {"fs.inotify.max_user_instances": "128", "fs.inotify.max_user_watches": "65536"}
        for key, value in self.sysctl.items():
            (self.fake / "sysctl" / key).write_text(value + "\n")

    @staticmethod
    def _script(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)

    def install_docker(self, *packages: str, running: bool = False) -> None:
        """Docker as a user installed it (not through host-setup)."""
        with (self.fake / "installed").open("a") as f:
            f.writelines(f"{p}\n" for p in packages)
        self._script(self.bin / "docker", DOCKER_CLI)
        self._script(self.bin / "dockerd", DOCKERD)
        if running:
            (self.fake / "running").touch()

    def run(
        self, script: str, pass_fds: tuple[int, ...] = (), **env: str
    ) -> subprocess.CompletedProcess[str]:
        (self.fake / "calls").write_text("")
        base = {
            "PATH": f"{self.bin}:{self.tools}",
            "FAKE": str(self.fake),
            "HOST_SETUP_ROOT": str(self.root),
            "HOME": str(self.fake / "home"),
            "KIND_VERSION": "v0.30.0",
            "TOOLS_BIN": str(self.kind_bin),
        }
        return subprocess.run(
            [shutil.which("bash") or "/bin/bash", str(HOST / script)],
            capture_output=True,
            text=True,
            env={**base, **env},
            timeout=60,
            pass_fds=pass_fds,
        )

    def calls(self) -> list[str]:
        return (self.fake / "calls").read_text().splitlines()

    def tree(self) -> dict[str, str]:
        """Every file under the root with its content (links as their target)."""
        files = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_symlink():
                files[str(path.relative_to(self.root))] = "-> " + os.readlink(path)
            elif path.is_file():
                files[str(path.relative_to(self.root))] = path.read_text()
        return files

    def sysctls(self) -> dict[str, str]:
        return {key: (self.fake / "sysctl" / key).read_text().strip() for key in self.sysctl}


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def changes(calls: list[str]) -> list[str]:
    """The calls that change a machine (docker info/version/context only look)."""
    looking = ("docker info", "docker version", "docker context")
    return [c for c in calls if not c.startswith(looking) and not c.startswith("sysctl -n")]


def test_docker_installed_but_stopped_and_not_ours_changes_nothing(machine: Machine) -> None:
    machine.install_docker("docker-ce", "docker-ce-cli", "containerd.io")
    (machine.root / "lib/systemd/system").mkdir(parents=True)
    (machine.root / "lib/systemd/system/docker.service").write_text("[Unit]\n")
    before = machine.tree()
    done = machine.run("setup.sh")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "[host-setup] error: Docker is installed (docker-ce docker-ce-cli containerd.io, docker.service) "
        "but does not answer: start it (nohup dockerd >>/var/log/dockerd.log 2>&1 &) and run make again; "
        "host-setup installs and starts nothing while a Docker it did not install is here",
    ]
    assert changes(machine.calls()) == []
    assert machine.tree() == before and machine.sysctls() == machine.sysctl


def test_with_systemd_it_names_systemctl_and_still_starts_nothing(machine: Machine) -> None:
    machine.install_docker("docker.io")
    (machine.root / "proc/1/comm").write_text("systemd\n")
    done = machine.run("setup.sh")
    assert done.returncode == 1
    assert (
        "Docker is installed (docker.io) but does not answer: start it (systemctl start docker)"
        in done.stderr
    )
    assert changes(machine.calls()) == []


def test_docker_host_elsewhere_changes_nothing(machine: Machine) -> None:
    done = machine.run("setup.sh", DOCKER_HOST="tcp://10.0.0.9:2376")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "[host-setup] error: DOCKER_HOST=tcp://10.0.0.9:2376 is set, but no Docker answers there: "
        "start that Docker, or unset DOCKER_HOST to use this machine's, and run make again"
    ]
    assert changes(machine.calls()) == [] and machine.tree() == {
        "proc/1/comm": "process_api\n",
        "proc/self/status": "CapBnd:\t000001fffeffffff\n",
    }


def test_another_docker_context_and_rootless_docker_change_nothing(machine: Machine) -> None:
    machine.install_docker("docker-ce-cli")
    (machine.fake / "context").write_text("remote\n")
    done = machine.run("setup.sh")
    assert done.returncode == 1 and "docker context 'remote' is in use" in done.stderr
    (machine.fake / "context").unlink()
    user_unit = machine.fake / "home/.config/systemd/user/docker.service"
    user_unit.parent.mkdir(parents=True)
    user_unit.write_text("[Unit]\n")
    done = machine.run("setup.sh")
    assert done.returncode == 1
    assert "a rootless Docker is set up for tester, but it does not answer" in done.stderr
    assert changes(machine.calls()) == []


def test_a_user_who_may_not_use_the_socket_is_told_so(machine: Machine) -> None:
    machine.install_docker("docker.io")
    (machine.fake / "uid").write_text("1000\n")
    (machine.root / "var/run").mkdir(parents=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(machine.root / "var/run/docker.sock"))
    done = machine.run("setup.sh")
    assert done.returncode == 1
    assert (
        "Docker runs, but this user may not use /var/run/docker.sock: add it to the docker group"
        in done.stderr
    )


def test_no_docker_at_all_installs_docker_io_and_registers_the_wrapper(machine: Machine) -> None:
    done = machine.run("setup.sh")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[host-setup] installing runc from Debian",
        "[host-setup] capability bounding set lacks CAP_SYS_RESOURCE: registering runc-caps-wrapper as "
        "Docker's default runtime",
        "[host-setup] installing docker.io from Debian",
        f"[host-setup] no init system manages Docker here: starting dockerd (log: {dockerd_log(machine)})",
        "[host-setup] Docker is up (20.10.24)",
        "[host-setup] raised fs.inotify.max_user_instances from 128 to 512",
        "[host-setup] raised fs.inotify.max_user_watches from 65536 to 524288",
        "[host-setup] installing debootstrap from Debian",
        "[host-setup] ready: kind v0.30.0 go1.24 linux/amd64",
    ]
    tree = machine.tree()
    assert tree["etc/docker/daemon.json"] == REGISTRATION
    assert json.loads(REGISTRATION)["runtimes"]["caps-runc"]["path"] == WRAPPER
    assert tree[WRAPPER.lstrip("/")] == (HOST / "runc-caps-wrapper").read_text()
    assert tree["usr/local/libexec/static-pod-harness/runc"] == f"-> {machine.bin}/runc"  # found, not assumed
    state = "var/lib/static-pod-harness/host-setup"
    assert tree[f"{state}/packages"] == "runc\ndocker.io\ndebootstrap\n"
    assert tree[f"{state}/docker"] == "installed\n"
    assert tree[f"{state}/sysctl"] == (
        "fs.inotify.max_user_instances 128 512\nfs.inotify.max_user_watches 65536 524288\n"
    )
    assert "dockerd " in machine.calls()


def test_a_docker_client_alone_is_no_docker_installs_docker_io_beside_it(machine: Machine) -> None:
    # A new machine of this project's type: a docker CLI on PATH, no engine, package, unit or socket.
    client_dir = machine.fake / "usr-local-bin"
    machine._script(client_dir / "docker", DOCKER_CLI)
    done = machine.run("setup.sh", PATH=f"{client_dir}:{machine.bin}:{machine.tools}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        f"[host-setup] no Docker engine (only a Docker client is here: {client_dir}/docker): installing "
        "Debian's docker.io beside it, the client left as it is",
        "[host-setup] installing runc from Debian",
        "[host-setup] capability bounding set lacks CAP_SYS_RESOURCE: registering runc-caps-wrapper as "
        "Docker's default runtime",
    ]
    assert "[host-setup] Docker is up (20.10.24)" in done.stdout
    assert (client_dir / "docker").read_text() == DOCKER_CLI  # the user's client, untouched
    assert machine.tree()["var/lib/static-pod-harness/host-setup/docker"] == "installed\n"


def test_the_dockerd_it_starts_holds_none_of_the_callers_files(machine: Machine, tmp_path: Path) -> None:
    with (tmp_path / "lock").open("w") as lock:  # a flock of the caller's, or a CI step's pipe
        held = lock.fileno()
        assert machine.run("setup.sh", pass_fds=(held,)).returncode == 0
    # setup waited for it to answer, which it does after listing its files
    assert str(held) not in (machine.fake / "dockerd-fds").read_text().split()


def test_a_docker_client_alone_as_another_user_says_what_to_do(machine: Machine) -> None:
    client_dir = machine.fake / "usr-local-bin"
    machine._script(client_dir / "docker", DOCKER_CLI)
    (machine.fake / "uid").write_text("1000\n")
    done = machine.run("setup.sh", PATH=f"{client_dir}:{machine.bin}:{machine.tools}")
    assert done.returncode == 1
    assert done.stderr == (
        f"[host-setup] error: Docker is not installed (only a Docker client is here: {client_dir}/docker): "
        "run make host-setup as root (it installs Debian's docker.io), or install Docker yourself\n"
    )
    assert changes(machine.calls()) == []


def test_a_host_with_the_full_bounding_set_gets_no_wrapper(machine: Machine) -> None:
    (machine.root / "proc/self/status").write_text("CapBnd:\t000001ffffffffff\n")
    assert machine.run("setup.sh").returncode == 0
    assert not (machine.root / "etc/docker").exists()
    assert not (machine.root / WRAPPER.lstrip("/")).exists()


def test_ours_but_stopped_is_started_again_and_nothing_else_changes(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()  # a reboot
    before = machine.tree()
    done = machine.run("setup.sh")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        "[host-setup] Docker (docker.io, installed by host-setup) is stopped: starting it",
        f"[host-setup] no init system manages Docker here: starting dockerd (log: {dockerd_log(machine)})",
        "[host-setup] Docker is up (20.10.24)",
    ]
    assert changes(machine.calls()) == ["dockerd "]
    assert machine.tree() == before


def test_ours_but_another_docker_was_installed_since_is_left_alone(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()
    machine.install_docker("docker-ce")
    done = machine.run("setup.sh")
    assert done.returncode == 1 and "Docker is installed (docker.io docker-ce)" in done.stderr
    assert changes(machine.calls()) == []


def test_docker_set_up_by_an_earlier_host_setup_is_recognised_and_started(machine: Machine) -> None:
    machine.install_docker("docker.io")
    (machine.root / "etc/docker").mkdir(parents=True)
    (machine.root / "etc/docker/daemon.json").write_text(REGISTRATION)
    Machine._script(machine.root / WRAPPER.lstrip("/"), "#!/usr/bin/python3\n# the old wrapper\n")
    done = machine.run("setup.sh")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "[host-setup] docker.io and its runc-caps-wrapper were set up by an earlier host-setup: recorded in "
        f"{machine.root}/var/lib/static-pod-harness/host-setup",
        "[host-setup] Docker (docker.io, installed by host-setup) is stopped: starting it",
    ]
    tree = machine.tree()
    assert tree[WRAPPER.lstrip("/")] == (HOST / "runc-caps-wrapper").read_text()  # brought up to date
    assert tree["usr/local/libexec/static-pod-harness/runc"] == f"-> {machine.bin}/runc"
    assert tree["etc/docker/daemon.json"] == REGISTRATION


def test_a_running_docker_is_left_as_it_is(machine: Machine) -> None:
    machine.install_docker("docker-ce", running=True)
    done = machine.run("setup.sh")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == "[host-setup] Docker answers (20.10.24): leaving it as it is"
    assert not (machine.root / "etc/docker").exists()
    assert [c for c in changes(machine.calls()) if not c.startswith(("sysctl", "apt-get"))] == []


def test_teardown_reverts_exactly_what_setup_recorded(machine: Machine) -> None:
    before = machine.tree()
    assert machine.run("setup.sh").returncode == 0

    done = machine.run("teardown.sh")  # Docker still runs with the wrapper: it stays
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"[host-teardown] removed {machine.root}/etc/docker/daemon.json (the caps-runc runtime); a running "
        "Docker keeps using it until it restarts",
        "[host-teardown] warning: after that restart, containers created with the caps-runc runtime (kind "
        "nodes made while it was registered) cannot start: delete them (kind delete cluster) and create them "
        "again",
        "[host-teardown] removed /etc/docker (host-setup had made it)",
        f"[host-teardown] kept {WRAPPER}: Docker still uses it; restart Docker, then run make "
        "host-teardown again",
        "[host-teardown] restored fs.inotify.max_user_instances to 128 (host-setup had raised it to 512)",
        "[host-teardown] restored fs.inotify.max_user_watches to 65536 (host-setup had raised it to 524288)",
        "[host-teardown] kept the packages host-setup installed: runc docker.io debootstrap "
        "(make host-teardown REMOVE_PACKAGES=1 removes them)",
        f"[host-teardown] still recorded in {machine.root}/var/lib/static-pod-harness/host-setup: docker "
        "packages wrapper",
    ]
    assert machine.sysctls() == machine.sysctl
    assert not [c for c in machine.calls() if c.startswith(("systemctl", "dockerd", "apt-get"))]

    (machine.fake / "running").unlink()  # Docker restarted without the registration
    done = machine.run("teardown.sh", REMOVE_PACKAGES="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"[host-teardown] removed {WRAPPER} and its runc link",
        "[host-teardown] removing the packages host-setup installed: runc docker.io debootstrap "
        "(a running docker.io stops with it)",
        "[host-teardown] removed runc docker.io debootstrap (apt-get autoremove removes the rest of what "
        "they pulled in)",
        "[host-teardown] done: nothing host-setup added is left",
    ]
    assert machine.calls()[-2:] == [
        "apt-get -s remove runc docker.io debootstrap",  # what apt would remove, asked first
        "apt-get remove -y -q runc docker.io debootstrap",
    ]
    assert machine.tree() == before | {"var/log/dockerd.log": ""}
    assert machine.run("teardown.sh").stdout.startswith("[host-teardown] nothing to remove")


def test_teardown_keeps_what_changed_since_setup(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.root / "etc/docker/daemon.json").write_text('{"debug": true}\n')  # the user's now
    (machine.fake / "sysctl/fs.inotify.max_user_watches").write_text("1048576\n")
    (machine.fake / "running").unlink()
    done = machine.run("teardown.sh")
    assert (
        f"[host-teardown] kept {machine.root}/etc/docker/daemon.json: it changed since host-setup wrote it; "
        in done.stdout
    )
    assert (
        "kept fs.inotify.max_user_watches at 1048576: it changed since host-setup set 524288" in done.stdout
    )
    assert (machine.root / "etc/docker/daemon.json").read_text() == '{"debug": true}\n'
    assert machine.sysctls()["fs.inotify.max_user_watches"] == "1048576"


def test_the_wrapper_drops_what_the_bounding_set_lacks_and_runs_the_runc_beside_it(tmp_path: Path) -> None:
    wrapper = tmp_path / "runc-caps-wrapper"
    shutil.copy(HOST / "runc-caps-wrapper", wrapper)
    (tmp_path / "runc").symlink_to(shutil.which("echo") or "/bin/echo")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    caps = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"]
    config = bundle / "config.json"
    config.write_text(json.dumps({"process": {"capabilities": {"bounding": caps, "effective": caps}}}))
    config.chmod(0o600)
    inode = config.stat().st_ino
    done = subprocess.run(
        ["python3", str(wrapper), "--log", "x", "create", "--bundle", str(bundle), "c1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == f"--log x create --bundle {bundle} c1\n"
    with open("/proc/self/status") as status:
        mask = int(next(line.split()[1] for line in status if line.startswith("CapBnd:")), 16)
    allowed = [
        c for c, bit in (("CAP_CHOWN", 0), ("CAP_SYS_RESOURCE", 24), ("CAP_SYS_ADMIN", 21)) if mask >> bit & 1
    ]
    written = json.loads(config.read_text())["process"]["capabilities"]
    assert written == {"bounding": allowed, "effective": allowed}
    if allowed != caps:
        assert config.stat().st_ino != inode and config.stat().st_mode & 0o777 == 0o600  # replaced, same mode
    assert sorted(p.name for p in bundle.iterdir()) == ["config.json"]


def test_the_wrapper_without_its_runc_says_what_to_do(tmp_path: Path) -> None:
    wrapper = tmp_path / "runc-caps-wrapper"
    shutil.copy(HOST / "runc-caps-wrapper", wrapper)
    done = subprocess.run(["python3", str(wrapper), "--version"], capture_output=True, text=True)
    assert done.returncode == 1
    assert (
        done.stderr == f"runc-caps-wrapper: cannot run {tmp_path}/runc (No such file or directory): "
        "run make host-setup again\n"
    )


def _socket(machine: Machine) -> None:
    (machine.root / "var/run").mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(machine.root / "var/run/docker.sock"))


def test_a_user_who_may_not_use_the_socket_of_host_setups_docker_is_not_told_to_run_as_root(
    machine: Machine,
) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()  # answers no one: this user may not use its socket
    _socket(machine)
    (machine.fake / "uid").write_text("1000\n")
    done = machine.run("setup.sh")
    assert done.returncode == 1
    assert done.stderr == (
        "[host-setup] error: Docker runs, but this user may not use /var/run/docker.sock: add it to the "
        "docker group (usermod -aG docker $USER, then log in again) or run as root\n"
    )


def test_a_hung_dockerd_of_host_setups_own_is_not_started_twice(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()  # hangs: its socket is there, it answers nothing
    _socket(machine)
    (machine.root / "proc/4242").mkdir()
    (machine.root / "proc/4242/comm").write_text("dockerd\n")
    dockerd_log(machine).write_text("the hung daemon's log\n")
    done = machine.run("setup.sh")
    assert done.returncode == 1
    assert done.stderr == (
        "[host-setup] error: dockerd runs (pid 4242) but does not answer on /var/run/docker.sock: see what "
        "it is doing (systemctl status docker, or its log), and run make again; host-setup starts no second "
        "one\n"
    )
    assert changes(machine.calls()) == []
    assert dockerd_log(machine).read_text() == "the hung daemon's log\n"


def test_host_setups_docker_left_a_socket_when_it_died_is_started_and_its_log_kept(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()
    _socket(machine)  # no dockerd runs: dockerd replaces the socket when it starts
    dockerd_log(machine).write_text("what it said before it died\n")
    done = machine.run("setup.sh")
    assert done.returncode == 0, done.stderr
    assert changes(machine.calls()) == ["dockerd "]
    assert dockerd_log(machine).read_text() == "what it said before it died\n"  # appended to, not truncated


def test_a_run_after_a_failed_docker_install_takes_its_own_daemon_json_for_its_own(machine: Machine) -> None:
    failed = machine.run("setup.sh", APT_FAILS="docker.io")
    assert failed.returncode == 1 and "could not install docker.io with apt-get" in failed.stderr
    assert (machine.root / "etc/docker/daemon.json").read_text() == REGISTRATION
    done = machine.run("setup.sh")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stdout
    assert (
        "[host-setup] capability bounding set lacks CAP_SYS_RESOURCE: registering runc-caps-wrapper as "
        "Docker's default runtime" in done.stdout.splitlines()
    )
    assert (machine.fake / "running").read_text() == REGISTRATION  # the Docker it started uses it
    state = machine.root / "var/lib/static-pod-harness/host-setup"
    assert (state / "created").read_text() == "/etc/docker\n"  # recorded once, by the run that made it


def test_a_later_run_keeps_a_runc_link_that_runs_and_a_wrapper_that_is_current(
    machine: Machine, tmp_path: Path
) -> None:
    assert machine.run("setup.sh").returncode == 0
    link = machine.root / "usr/local/libexec/static-pod-harness/runc"
    wrapper = machine.root / WRAPPER.lstrip("/")
    written = (wrapper.stat().st_ino, wrapper.stat().st_mtime_ns)
    other = tmp_path / "other-bin"
    Machine._script(other / "runc", "#!/bin/sh\nexit 0\n")
    path = f"{other}:{machine.bin}:{machine.tools}"  # another runc first on PATH (e.g. under sudo)
    assert machine.run("setup.sh", PATH=path).returncode == 0
    assert os.readlink(link) == f"{machine.bin}/runc"  # kept: it still runs
    assert (wrapper.stat().st_ino, wrapper.stat().st_mtime_ns) == written  # unchanged: not written again
    (machine.bin / "runc").unlink()  # its runc went away: the link follows runc where it is now
    assert machine.run("setup.sh", PATH=path).returncode == 0
    assert os.readlink(link) == f"{other}/runc"


def test_teardown_removes_etc_docker_only_when_setup_made_it(machine: Machine) -> None:
    (machine.root / "etc/docker").mkdir(parents=True)  # the user's, empty
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()
    done = machine.run("teardown.sh")
    assert done.returncode == 0, done.stderr
    assert (machine.root / "etc/docker").is_dir() and not (machine.root / "etc/docker/daemon.json").exists()
    assert "/etc/docker (host-setup had made it)" not in done.stdout


def test_a_sysctl_that_cannot_be_restored_is_reported_and_stays_recorded(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()
    done = machine.run("teardown.sh", SYSCTL_FAILS="1")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "[host-teardown] warning: could not restore fs.inotify.max_user_instances to 128 (sysctl -w: sysctl: "
        "permission denied on key fs.inotify.max_user_instances): it stays at 512; set it yourself "
        "(sysctl -w fs.inotify.max_user_instances=128)",
        "[host-teardown] warning: could not restore fs.inotify.max_user_watches to 65536 (sysctl -w: sysctl: "
        "permission denied on key fs.inotify.max_user_watches): it stays at 524288; set it yourself "
        "(sysctl -w fs.inotify.max_user_watches=65536)",
        "[host-teardown] error: some of what host-setup added could not be removed (warnings above)",
    ]
    assert "kept the packages host-setup installed" in done.stdout  # the steps after it still ran
    done = machine.run("teardown.sh")  # recorded still: a second run restores them
    assert "restored fs.inotify.max_user_instances to 128" in done.stdout
    assert machine.sysctls() == machine.sysctl


def test_remove_packages_removes_nothing_that_host_setup_did_not_install(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()
    with (machine.fake / "installed").open("a") as installed:  # installed since, and needs runc
        installed.write("containerd\npodman\n")
    (machine.fake / "depends").write_text("containerd runc\npodman runc\n")
    done = machine.run("teardown.sh", REMOVE_PACKAGES="1")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "[host-teardown] error: REMOVE_PACKAGES=1 would also remove containerd podman, which host-setup did "
        "not install (they need runc docker.io debootstrap): nothing removed; remove the packages you want "
        "with apt-get yourself"
    ]
    assert [c for c in machine.calls() if c.startswith("apt-get")] == [
        "apt-get -s remove runc docker.io debootstrap"
    ]
    assert (machine.fake / "installed").read_text().split() == [
        "runc",
        "docker.io",
        "debootstrap",
        "containerd",
        "podman",
    ]


def test_remove_packages_removes_what_apt_installed_with_them_too(machine: Machine) -> None:
    (machine.fake / "pulls").write_text("docker.io containerd\n")  # as Debian's docker.io does
    (machine.fake / "depends").write_text("containerd runc\n")
    assert machine.run("setup.sh").returncode == 0
    assert (machine.root / "var/lib/static-pod-harness/host-setup/pulled").read_text() == "containerd\n"
    (machine.fake / "running").unlink()
    machine.run("teardown.sh")  # the wrapper goes once Docker no longer uses it

    done = machine.run("teardown.sh", REMOVE_PACKAGES="1")
    assert done.returncode == 0, done.stderr
    assert (
        "[host-teardown] removed runc docker.io debootstrap containerd (apt-get autoremove removes the rest "
        "of what they pulled in)" in done.stdout.splitlines()
    )
    assert (machine.fake / "installed").read_text() == ""
    assert not (machine.root / "var/lib/static-pod-harness").exists()


def test_remove_packages_stops_at_a_dockerd_no_init_system_would_stop(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0  # no init system: host-setup started dockerd itself
    (machine.root / "proc/4242").mkdir()
    (machine.root / "proc/4242/comm").write_text("dockerd\n")
    done = machine.run("teardown.sh", REMOVE_PACKAGES="1")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "[host-teardown] error: dockerd (pid 4242) runs, and no init system stops it with its package: stop "
        "it (kill 4242), then run make host-teardown REMOVE_PACKAGES=1 again; nothing removed"
    )
    assert not [c for c in machine.calls() if c.startswith("apt-get") and "remove" in c]
    assert (machine.root / "var/lib/static-pod-harness/host-setup/packages").exists()


def test_a_failing_package_removal_shows_apts_output(machine: Machine) -> None:
    assert machine.run("setup.sh").returncode == 0
    (machine.fake / "running").unlink()
    (machine.fake / "remove-fails").touch()
    done = machine.run("teardown.sh", REMOVE_PACKAGES="1")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == [
        "E: Sub-process /usr/bin/dpkg returned an error code (1)",
        "[host-teardown] error: apt-get remove runc docker.io debootstrap failed (output above): they stay "
        f"recorded in {machine.root}/var/lib/static-pod-harness/host-setup",
    ]
    assert (machine.root / "var/lib/static-pod-harness/host-setup/packages").exists()
