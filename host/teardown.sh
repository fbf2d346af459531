#!/usr/bin/env bash
# Removes what host/setup.sh added, as it recorded it under $STATE, and says what it removed:
# the runc-caps-wrapper runtime registration (daemon.json, while it is still exactly what
# host-setup wrote), the wrapper (once no Docker uses it), the sysctl values it raised (the old
# values back, unless someone changed them since). Packages it installed are removed only with
# REMOVE_PACKAGES=1. Docker is never stopped or restarted here.
set -euo pipefail

SCRIPT=host-teardown
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=host/lib.sh
source "$here/lib.sh"

[ -d "$STATE" ] || { say "nothing to remove: host-setup recorded nothing here ($STATE)"; exit 0; }
is_root || die "run make host-teardown as root: what host-setup added belongs to root"

unregister() {
  [ -e "$STATE/daemon.json" ] || return 0
  if [ -f "$DAEMON_JSON" ] && cmp -s "$DAEMON_JSON" "$STATE/daemon.json"; then
    rm -f "$DAEMON_JSON"
    rmdir "$(dirname "$DAEMON_JSON")" 2>/dev/null || true
    say "removed $DAEMON_JSON (the caps-runc runtime); a running Docker keeps using it until it restarts"
  elif [ -e "$DAEMON_JSON" ]; then
    say "kept $DAEMON_JSON: it changed since host-setup wrote it; remove its caps-runc runtime yourself"
    return 0
  fi
  rm -f "$STATE/daemon.json"
}

docker_uses_wrapper() {
  grep -qs "$WRAPPER" "$DAEMON_JSON" && return 0
  # shellcheck disable=SC2016  # a Go template, not a shell expansion
  docker_answers && timeout 20 docker info -f '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}' 2>/dev/null \
    | grep -qw caps-runc
}

remove_wrapper() {
  [ -e "$STATE/wrapper" ] || return 0
  if docker_uses_wrapper; then
    say "kept $WRAPPER: Docker still uses it; restart Docker, then run make host-teardown again"
    return 0
  fi
  rm -f "$ROOT$WRAPPER" "$ROOT$WRAPPER_DIR/runc"
  rmdir "$ROOT$WRAPPER_DIR" 2>/dev/null || true
  rm -f "$STATE/wrapper"
  say "removed $WRAPPER and its runc link"
}

restore_sysctls() {
  [ -e "$STATE/sysctl" ] || return 0
  local key old new have
  while read -r key old new; do
    have=$(sysctl -n "$key")
    if [ "$have" = "$new" ]; then
      sysctl -q -w "$key=$old"
      say "restored $key to $old (host-setup had raised it to $new)"
    else
      say "kept $key at $have: it changed since host-setup set $new"
    fi
  done <"$STATE/sysctl"
  rm -f "$STATE/sysctl"
}

remove_packages() {
  [ -e "$STATE/packages" ] || return 0
  local recorded pkgs
  mapfile -t recorded <"$STATE/packages"
  mapfile -t pkgs < <(installed "${recorded[@]}")
  if [ ${#pkgs[@]} -eq 0 ]; then
    rm -f "$STATE/packages" "$STATE/docker"
  elif [ "${REMOVE_PACKAGES:-}" = 1 ]; then
    say "removing the packages host-setup installed: ${pkgs[*]} (a running docker.io stops with it)"
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "${pkgs[@]}" >/dev/null
    rm -f "$STATE/packages" "$STATE/docker"
    say "removed ${pkgs[*]} (apt-get autoremove removes what they pulled in)"
  else
    say "kept the packages host-setup installed: ${pkgs[*]} (make host-teardown REMOVE_PACKAGES=1 removes them)"
  fi
}

unregister
remove_wrapper
restore_sysctls
remove_packages
if [ -e "$STATE/docker" ] && [ "$(cat "$STATE/docker")" = adopted ] && [ ! -e "$STATE/daemon.json" ] && [ ! -e "$STATE/wrapper" ]; then
  rm -f "$STATE/docker"  # docker.io from a host-setup before records: its packages are never removed here
fi
if rmdir "$STATE" 2>/dev/null; then
  rmdir "$(dirname "$STATE")" 2>/dev/null || true
  say "done: nothing host-setup added is left"
else
  left=("$STATE"/*)
  say "still recorded in $STATE: ${left[*]##*/}"
fi
