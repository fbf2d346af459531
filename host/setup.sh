#!/usr/bin/env bash
# Host set-up for running kind here, idempotent, as root.
#
# - a Docker engine that answers (Debian's docker.io, started by hand when no init
#   system manages it), with host/runc-caps-wrapper as its default runtime where the
#   capability bounding set is short (docker --privileged fails there otherwise);
# - inotify limits high enough for multi-node kind clusters;
# - kind at the pinned release (go install, into $TOOLS_BIN);
# - debootstrap, which the offline node image build uses.
# On a machine where Docker already answers, Docker is left exactly as it is.
set -euo pipefail

KIND_VERSION=${KIND_VERSION:?KIND_VERSION must be set (the Makefile pins it)}
TOOLS_BIN=${TOOLS_BIN:?TOOLS_BIN must be set (where kind is installed)}
here=$(cd "$(dirname "$0")" && pwd)
wrapper_dst=/usr/local/libexec/static-pod-harness/runc-caps-wrapper

say() { printf '[host-setup] %s\n' "$*"; }
die() { printf '[host-setup] error: %s\n' "$*" >&2; exit 1; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]} (or install them yourself)"
  say "installing ${missing[*]} from Debian"
  local log
  log=$(mktemp)
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "could not install ${missing[*]} with apt-get (output above)"
  fi
  rm -f "$log"
}

bounding_set_is_short() {
  # CAP_SYS_RESOURCE is bit 24; kind's privileged node containers need it from runc.
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bnd >> 24 & 1) == 0 ))
}

setup_docker() {
  if docker info >/dev/null 2>&1; then
    say "Docker answers: leaving it as it is"
    return 0
  fi
  if [ -S /var/run/docker.sock ] && [ "$(id -u)" -ne 0 ]; then
    die "Docker runs but this user may not use /var/run/docker.sock: add yourself to the docker group or run as root"
  fi
  apt_install docker.io
  if bounding_set_is_short && [ ! -e /etc/docker/daemon.json ]; then
    say "capability bounding set lacks CAP_SYS_RESOURCE: registering runc-caps-wrapper as Docker's default runtime"
    install -D -m 0755 "$here/runc-caps-wrapper" "$wrapper_dst"
    mkdir -p /etc/docker
    cat >/etc/docker/daemon.json <<JSON
{"runtimes": {"caps-runc": {"path": "$wrapper_dst"}}, "default-runtime": "caps-runc"}
JSON
  elif bounding_set_is_short && [ -e "$wrapper_dst" ]; then
    install -m 0755 "$here/runc-caps-wrapper" "$wrapper_dst"
  fi
  if [ "$(cat /proc/1/comm)" = systemd ]; then
    systemctl restart docker
  else
    say "no init system manages Docker here: starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { say "Docker is up ($(docker version -f '{{.Server.Version}}'))"; return 0; }
    sleep 0.5
  done
  die "dockerd did not answer within 30 s; see /var/log/dockerd.log"
}

raise_sysctl() {
  local key=$1 want=$2 have
  have=$(sysctl -n "$key")
  if [ "$have" -lt "$want" ]; then
    sysctl -q -w "$key=$want" || say "warning: could not raise $key to $want (have $have)"
  fi
}

setup_kind() {
  local kind="$TOOLS_BIN/kind"
  if [ -x "$kind" ] && "$kind" version 2>/dev/null | grep -q "kind $KIND_VERSION "; then
    return 0
  fi
  command -v go >/dev/null || die "Go is needed to install kind $KIND_VERSION (go install sigs.k8s.io/kind@$KIND_VERSION)"
  say "installing kind $KIND_VERSION into $TOOLS_BIN"
  mkdir -p "$TOOLS_BIN"
  GOBIN="$TOOLS_BIN" go install "sigs.k8s.io/kind@$KIND_VERSION" \
    || die "go install sigs.k8s.io/kind@$KIND_VERSION failed: is the Go module proxy reachable (go env GOPROXY)?"
}

setup_docker
if [ "$(id -u)" -eq 0 ]; then
  raise_sysctl fs.inotify.max_user_instances 512
  raise_sysctl fs.inotify.max_user_watches 524288
  apt_install debootstrap
fi
setup_kind
say "ready: $("$TOOLS_BIN/kind" version)"
