#!/usr/bin/env bash
# Removes what host/setup.sh added, as it recorded it under $STATE, and says what it removed:
# the runc-caps-wrapper runtime registration (daemon.json, while it is still exactly what
# host-setup wrote, and /etc/docker when host-setup made it and it is empty), the wrapper (once
# no Docker uses it), the sysctl values it raised (the old values back, unless someone changed
# them since). Packages it installed (and what apt installed with them) are removed only with
# REMOVE_PACKAGES=1, only when apt would remove nothing else with them, and, where no init system
# runs, only once dockerd is stopped. Docker is never stopped or restarted here. A step that fails
# says so and keeps its record (run it again); the others still run, and the exit status is 1.
set -euo pipefail

SCRIPT=host-teardown
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=host/lib.sh
source "$here/lib.sh"

[ -d "$STATE" ] || { say "nothing to remove: host-setup recorded nothing here ($STATE)"; exit 0; }
is_root || die "run make host-teardown as root: what host-setup added belongs to root"

failed=0
warn() { say "warning: $*" >&2; failed=1; }

unregister() {
  [ -e "$STATE/daemon.json" ] || return 0
  if [ -f "$DAEMON_JSON" ] && cmp -s "$DAEMON_JSON" "$STATE/daemon.json"; then
    rm -f "$DAEMON_JSON"
    say "removed $DAEMON_JSON (the caps-runc runtime); a running Docker keeps using it until it restarts"
    say "warning: after that restart, containers created with the caps-runc runtime (kind nodes made while it was registered) cannot start: delete them (kind delete cluster) and create them again"
  elif [ -e "$DAEMON_JSON" ]; then
    say "kept $DAEMON_JSON: it changed since host-setup wrote it; remove its caps-runc runtime yourself"
    return 0
  fi
  rm -f "$STATE/daemon.json"
  remove_created_dirs
}

# The directories host-setup made (it recorded them), when nothing else was put in them since.
remove_created_dirs() {
  [ -e "$STATE/created" ] || return 0
  local dir
  while read -r dir; do
    if [ ! -d "$ROOT$dir" ]; then
      continue
    elif rmdir "$ROOT$dir" 2>/dev/null; then
      say "removed $dir (host-setup had made it)"
    else
      say "kept $dir: host-setup made it, but it holds files host-setup did not write"
    fi
  done <"$STATE/created"
  rm -f "$STATE/created"
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
  local key old new have out kept=()
  while read -r key old new; do
    if ! have=$(sysctl -n "$key" 2>&1); then
      warn "could not read $key ($have): it stays recorded; run make host-teardown again"
      kept+=("$key $old $new")
    elif [ "$have" != "$new" ]; then
      say "kept $key at $have: it changed since host-setup set $new"
    elif out=$(sysctl -q -w "$key=$old" 2>&1); then
      say "restored $key to $old (host-setup had raised it to $new)"
    else
      warn "could not restore $key to $old (sysctl -w: ${out:-failed}): it stays at $new; set it yourself (sysctl -w $key=$old)"
      kept+=("$key $old $new")
    fi
  done <"$STATE/sysctl"
  if [ ${#kept[@]} -eq 0 ]; then
    rm -f "$STATE/sysctl"
  else
    printf '%s\n' "${kept[@]}" >"$STATE/sysctl"
  fi
}

remove_packages() {
  [ -e "$STATE/packages" ] || return 0
  local recorded pulled=() pkgs removed pkg extra=() log
  mapfile -t recorded <"$STATE/packages"
  [ ! -e "$STATE/pulled" ] || mapfile -t pulled <"$STATE/pulled"  # installed by apt with them
  mapfile -t pkgs < <(installed "${recorded[@]}")
  if [ ${#pkgs[@]} -eq 0 ]; then
    rm -f "$STATE/packages" "$STATE/pulled" "$STATE/docker"
  elif [ "${REMOVE_PACKAGES:-}" = 1 ]; then
    # Without an init system, host-setup started dockerd itself, and removing docker.io would not
    # stop it: it would run on from deleted files, holding its socket.
    local pids
    pids=$(dockerd_pids)
    if [[ " ${pkgs[*]} " == *" docker.io "* ]] && [ -n "$pids" ] && ! systemd_runs; then
      die "dockerd (pid $pids) runs, and no init system stops it with its package: stop it (kill $pids), then run make host-teardown REMOVE_PACKAGES=1 again; nothing removed"
    fi
    # apt removes what depends on a package with it (containerd or podman on runc, installed
    # since): what it would remove is asked first, and anything host-setup did not install stops it.
    log=$(mktemp)
    if ! apt-get -s remove "${pkgs[@]}" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      rm -f "$log"
      die "apt-get -s remove ${pkgs[*]} failed (output above): nothing removed"
    fi
    mapfile -t removed < <(awk '$1 == "Remv" {sub(/:.*/, "", $2); print $2}' "$log")
    rm -f "$log"
    for pkg in "${removed[@]}"; do
      [[ " ${recorded[*]} ${pulled[*]} " == *" $pkg "* ]] || extra+=("$pkg")
    done
    if [ ${#extra[@]} -gt 0 ]; then
      die "REMOVE_PACKAGES=1 would also remove ${extra[*]}, which host-setup did not install (they need ${pkgs[*]}): nothing removed; remove the packages you want with apt-get yourself"
    fi
    say "removing the packages host-setup installed: ${pkgs[*]} (a running docker.io stops with it)"
    log=$(mktemp)
    if ! DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "${pkgs[@]}" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      rm -f "$log"
      die "apt-get remove ${pkgs[*]} failed (output above): they stay recorded in $STATE"
    fi
    rm -f "$log" "$STATE/packages" "$STATE/pulled" "$STATE/docker"
    say "removed ${removed[*]} (apt-get autoremove removes the rest of what they pulled in)"
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
[ "$failed" -eq 0 ] || die "some of what host-setup added could not be removed (warnings above)"
