# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
# Shared by host/setup.sh and host/teardown.sh: where host-setup puts things and records them.
#
# HOST_SETUP_ROOT prefixes every host path these scripts read or write (tests run them against
# a temporary root with fake commands first on PATH); it is empty on a real machine.
ROOT=${HOST_SETUP_ROOT:-}
STATE=$ROOT/var/lib/static-pod-harness/host-setup  # what host-setup added, so teardown can revert it
WRAPPER_DIR=/usr/local/libexec/static-pod-harness  # as dockerd sees it (daemon.json)
WRAPPER=$WRAPPER_DIR/runc-caps-wrapper
DAEMON_JSON=$ROOT/etc/docker/daemon.json
# The exact daemon.json host-setup writes (and wrote before it kept records).
REGISTRATION="{\"runtimes\": {\"caps-runc\": {\"path\": \"$WRAPPER\"}}, \"default-runtime\": \"caps-runc\"}"

say() { printf '[%s] %s\n' "$SCRIPT" "$*"; }
die() { printf '[%s] error: %s\n' "$SCRIPT" "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# The packages among "$@" that dpkg has installed.
installed() {
  command -v dpkg-query >/dev/null || return 0
  dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null | awk '$2 == "installed" {print $1}' || true
}

docker_answers() { command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; }

systemd_runs() { [ "$(cat "$ROOT/proc/1/comm" 2>/dev/null)" = systemd ]; }

# The pids of the dockerd processes that run ("" when none does).
dockerd_pids() {
  local comm pid pids=()
  for comm in "$ROOT"/proc/[0-9]*/comm; do
    [ "$(cat "$comm" 2>/dev/null)" = dockerd ] || continue
    pid=${comm%/comm}
    pids+=("${pid##*/}")
  done
  echo "${pids[*]}"
}
