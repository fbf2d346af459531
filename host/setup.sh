#!/usr/bin/env bash
# Host set-up for running kind here, idempotent. It never harms a Docker it did not install:
#
# - a Docker that answers is used as it is;
# - a Docker that is there in any form but does not answer (a package, a service unit, a
#   socket, a binary, DOCKER_HOST or a docker context pointing elsewhere, a rootless set-up)
#   makes it stop, installing and starting nothing, with what it found and what to do;
#   only a Docker that host-setup itself installed (recorded in $STATE) is started again, and
#   not while a dockerd process runs (a hung one) or this user may not use its socket;
# - with no Docker at all, as root: Debian's docker.io, installed and started, with
#   host/runc-caps-wrapper as its default runtime where the capability bounding set lacks
#   CAP_SYS_RESOURCE (docker run --privileged fails there otherwise);
# - inotify limits raised for multi-node clusters, debootstrap (the offline node image
#   build), kind at the pinned release in $TOOLS_BIN.
#
# What it adds is recorded under $STATE; `make host-teardown` (host/teardown.sh) removes it.
set -euo pipefail

KIND_VERSION=${KIND_VERSION:?KIND_VERSION must be set (the Makefile pins it)}
TOOLS_BIN=${TOOLS_BIN:?TOOLS_BIN must be set (where kind is installed)}
SCRIPT=host-setup
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=host/lib.sh
source "$here/lib.sh"

DOCKER_PACKAGES=(docker.io docker-ce docker-ce-cli docker-ce-rootless-extras docker-ee docker-engine
  moby-engine moby-cli containerd.io podman-docker)

record() { mkdir -p "$STATE" && printf '%s\n' "$2" >>"$STATE/$1"; }

apt_install() {
  local missing=() have
  have=" $(installed "$@" | tr '\n' ' ') "
  for pkg in "$@"; do [[ $have == *" $pkg "* ]] || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  is_root || die "need root to install ${missing[*]} (or install them yourself)"
  say "installing ${missing[*]} from Debian"
  local log
  log=$(mktemp)
  if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    die "could not install ${missing[*]} with apt-get (output above)"
  fi
  local pkg new
  for pkg in "${missing[@]}"; do record packages "$pkg"; done
  # What apt installed with them (containerd with docker.io), so that teardown may remove it too:
  # dpkg's own lines, which end in CR LF (apt runs it on a terminal of its own).
  while read -r new; do
    [[ " ${missing[*]} " == *" $new "* ]] || record pulled "$new"
  done < <(tr -d '\r' <"$log" | sed -n 's/^Selecting previously unselected package \([^ :]*\)\(:[^ ]*\)\{0,1\}\.$/\1/p')
  rm -f "$log"
}

bounding_set_is_short() {
  # CAP_SYS_RESOURCE is bit 24; kind's privileged node containers need it from runc.
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' "$ROOT/proc/self/status")
  (( (16#$bnd >> 24 & 1) == 0 ))
}

# The wrapper, and beside it a link to the runc it runs (resolved where runc is when the link is
# made), both replaced atomically: a running dockerd may call the wrapper at any moment. A link
# whose runc still runs is kept (PATH may find another runc on a later run, e.g. under sudo), and
# a wrapper that is already the current one is not written again.
install_wrapper() {
  local runc dir=$ROOT$WRAPPER_DIR
  mkdir -p "$dir"
  if [ -L "$dir/runc" ] && "$dir/runc" --version >/dev/null 2>&1; then
    runc=$(readlink "$dir/runc")
  else
    runc=$(command -v runc) || die "runc is not installed, which Docker needs: apt-get install runc"
    runc=$(readlink -f "$runc")
    ln -sfn "$runc" "$dir/.runc.new" && mv -T "$dir/.runc.new" "$dir/runc"
  fi
  if ! cmp -s "$here/runc-caps-wrapper" "$ROOT$WRAPPER"; then
    install -m 0755 "$here/runc-caps-wrapper" "$dir/.runc-caps-wrapper.new"
    mv -f "$dir/.runc-caps-wrapper.new" "$ROOT$WRAPPER"
  fi
  [ -e "$STATE/wrapper" ] || record wrapper "$runc"
}

# Only for a Docker host-setup installs: a daemon.json that exists is someone else's, unless it
# is the one host-setup wrote (a run whose docker.io install failed wrote it, and then stopped).
register_wrapper() {
  if [ -e "$DAEMON_JSON" ] && ! { [ -f "$STATE/daemon.json" ] && cmp -s "$DAEMON_JSON" "$STATE/daemon.json"; }; then
    say "warning: $DAEMON_JSON exists, so runc-caps-wrapper is not registered; docker run --privileged"
    say "  may fail here (no CAP_SYS_RESOURCE): add its runtime yourself (see host/runc-caps-wrapper)"
    return 0
  fi
  say "capability bounding set lacks CAP_SYS_RESOURCE: registering runc-caps-wrapper as Docker's default runtime"
  install_wrapper
  local etc_docker
  etc_docker=$(dirname "$DAEMON_JSON")
  if [ ! -d "$etc_docker" ]; then
    mkdir -p "$etc_docker"
    record created "${etc_docker#"$ROOT"}"  # teardown removes it (when empty) only then
  fi
  mkdir -p "$STATE"
  printf '%s\n' "$REGISTRATION" >"$STATE/daemon.json"
  local tmp
  tmp=$(mktemp "$DAEMON_JSON.XXXXXX")
  cp "$STATE/daemon.json" "$tmp" && chmod 0644 "$tmp" && mv -f "$tmp" "$DAEMON_JSON"
}

# A Docker set up by a host-setup that kept no records yet: docker.io, our daemon.json and
# wrapper, and no other Docker package. It is recorded as host-setup's (its packages are not:
# teardown never removes them).
adopt_earlier_setup() {
  is_root && [ ! -e "$STATE/docker" ] || return 0
  [ -f "$DAEMON_JSON" ] && [ "$(cat "$DAEMON_JSON")" = "$REGISTRATION" ] && [ -f "$ROOT$WRAPPER" ] || return 0
  [ "$(installed "${DOCKER_PACKAGES[@]}" | tr '\n' ' ')" = "docker.io " ] || return 0
  mkdir -p "$STATE"
  printf '%s\n' "$REGISTRATION" >"$STATE/daemon.json"
  record wrapper "adopted"
  record docker adopted
  say "docker.io and its runc-caps-wrapper were set up by an earlier host-setup: recorded in $STATE"
}

start_docker() {
  if systemd_runs; then
    systemctl start docker
  else
    say "no init system manages Docker here: starting dockerd (log: $ROOT/var/log/dockerd.log)"
    # dockerd outlives this run: it must hold none of the caller's files open (a CI step's pipe, a
    # flock), or whatever waits for them to close waits as long as Docker runs.
    (
      for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        [ "$fd" -le 2 ] || eval "exec $fd>&-"
      done
      exec nohup dockerd </dev/null >>"$ROOT/var/log/dockerd.log" 2>&1  # appended: never truncate another's log
    ) &
  fi
  for _ in $(seq 1 60); do
    docker_answers && { say "Docker is up ($(docker version -f '{{.Server.Version}}'))"; return 0; }
    sleep 0.5
  done
  die "dockerd did not answer within 30 s; see $ROOT/var/log/dockerd.log"
}

# Every trace of a Docker on this machine, one item each ("" when there is none).
docker_traces() {
  local traces=() pkgs unit sock
  pkgs=$(installed "${DOCKER_PACKAGES[@]}" | tr '\n' ' ')
  [ -n "$pkgs" ] && traces+=("${pkgs% }")
  for unit in docker.service docker.socket; do
    for dir in etc/systemd/system lib/systemd/system usr/lib/systemd/system; do
      [ -e "$ROOT/$dir/$unit" ] && { traces+=("$unit"); break; }
    done
  done
  for sock in /var/run/docker.sock /run/docker.sock; do
    [ -S "$ROOT$sock" ] && { traces+=("socket $sock"); break; }
  done
  # A docker client alone is no Docker to protect: it has no daemon, data or service of its own.
  if [ -z "$pkgs" ] && command -v dockerd >/dev/null; then
    for bin in dockerd docker; do command -v "$bin" >/dev/null && traces+=("$(command -v "$bin")"); done
  fi
  local IFS=,
  printf '%s' "${traces[*]}" | sed 's/,/, /g'
}

rootless_docker() {
  [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/docker.sock" ] || [ -e "$HOME/.config/systemd/user/docker.service" ] \
    || command -v dockerd-rootless.sh >/dev/null
}

# The socket a Docker on this machine listens on ("" when there is none).
docker_socket() {
  local sock
  for sock in /var/run/docker.sock /run/docker.sock; do
    [ -S "$ROOT$sock" ] && { echo "$sock"; return 0; }
  done
  return 0
}

NOT_OURS="host-setup installs and starts nothing while a Docker it did not install is here"

setup_docker() {
  adopt_earlier_setup
  if docker_answers; then
    say "Docker answers ($(docker version -f '{{.Server.Version}}' 2>/dev/null)): leaving it as it is"
    if [ -e "$STATE/wrapper" ] && is_root; then install_wrapper; fi  # ours: the current version
    return 0
  fi
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "DOCKER_HOST=$DOCKER_HOST is set, but no Docker answers there: start that Docker, or unset DOCKER_HOST to use this machine's, and run make again"
  fi
  local context=${DOCKER_CONTEXT:-}
  if [ -z "$context" ] && command -v docker >/dev/null; then context=$(docker context show 2>/dev/null || true); fi
  if [ -n "$context" ] && [ "$context" != default ]; then
    die "docker context '$context' is in use, but no Docker answers there: start it, or \`docker context use default\`, and run make again"
  fi
  if rootless_docker; then
    die "a rootless Docker is set up for $(id -un 2>/dev/null || echo this user), but it does not answer: start it (systemctl --user start docker) and run make again"
  fi
  # A socket that does not answer, before anything else: this user may not use it, or the
  # Docker behind it hangs. Either way nothing is started (a second dockerd beside a hung one,
  # even host-setup's own, would fight it over the socket and its data).
  local sock pids
  sock=$(docker_socket)
  pids=$(dockerd_pids)
  if [ -n "$sock" ] && ! is_root; then
    die "Docker runs, but this user may not use $sock: add it to the docker group (usermod -aG docker \$USER, then log in again) or run as root"
  fi
  if [ -n "$pids" ]; then
    die "dockerd runs (pid $pids) but does not answer${sock:+ on $sock}: see what it is doing (systemctl status docker, or its log), and run make again; host-setup starts no second one"
  fi
  local traces others
  traces=$(docker_traces)
  others=$(installed "${DOCKER_PACKAGES[@]}" | grep -vx docker.io || true)
  if [ -e "$STATE/docker" ] && [ -z "$others" ] && [ -n "$(installed docker.io)" ]; then
    is_root || die "Docker (docker.io, installed by host-setup) is stopped: run make host-setup as root to start it"
    say "Docker (docker.io, installed by host-setup) is stopped: starting it"
    if [ -e "$STATE/wrapper" ]; then install_wrapper; fi
    start_docker
    return 0
  fi
  if [ -n "$traces" ]; then
    local start="systemctl start docker"
    systemd_runs || start="nohup dockerd >>/var/log/dockerd.log 2>&1 &"
    die "Docker is installed ($traces) but does not answer: start it ($start) and run make again; $NOT_OURS"
  fi
  local client=""
  if command -v docker >/dev/null; then client=" (only a Docker client is here: $(command -v docker))"; fi
  is_root || die "Docker is not installed$client: run make host-setup as root (it installs Debian's docker.io), or install Docker yourself"
  [ -z "$client" ] || say "no Docker engine$client: installing Debian's docker.io beside it, the client left as it is"
  apt_install runc
  if bounding_set_is_short; then register_wrapper; fi
  apt_install docker.io
  record docker installed
  docker_answers || start_docker
}

raise_sysctl() {
  local key=$1 want=$2 have
  have=$(sysctl -n "$key")
  [ "$have" -lt "$want" ] || return 0
  if sysctl -q -w "$key=$want"; then
    grep -q "^$key " "$STATE/sysctl" 2>/dev/null || record sysctl "$key $have $want"
    say "raised $key from $have to $want"
  else
    say "warning: could not raise $key to $want (have $have)"
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
if is_root; then
  raise_sysctl fs.inotify.max_user_instances 512
  raise_sysctl fs.inotify.max_user_watches 524288
  apt_install debootstrap
fi
setup_kind
say "ready: $("$TOOLS_BIN/kind" version)"
