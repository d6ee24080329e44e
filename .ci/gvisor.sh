#!/usr/bin/env bash
# gvisor.sh register|unregister: make gVisor's runsc a runtime of the
# running Docker engine, and take it away again, without restarting it.
#
# register installs Debian's runsc if missing, keeps a copy of the
# engine's daemon.json, adds runsc to its "runtimes" and reloads the
# engine (SIGHUP: running containers are not touched). unregister sets
# "runtimes" to {} and reloads (a reload of a file without the key keeps
# the runtimes the engine knew), then puts the original file back.
#
# The runtime is registered with --network=host: gVisor then uses the
# network namespace the engine made for the container as it is (a
# passthrough to the host kernel's stack inside that namespace) instead
# of its own netstack, which fails here with "cannot run with network
# enabled in root network namespace" (see docs/security.md, gVisor).
set -euo pipefail

conf=${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}
name=${WARDER_DOCKER_GVISOR_RUNTIME:-runsc}
backup=/var/tmp/warder-gvisor-daemon.json.orig
absent=/var/tmp/warder-gvisor-daemon.json.absent

reload() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || pidof dockerd)
  kill -HUP "$pid"
}

# wait_for WANT: until the engine lists runtime $name (yes) or not (no).
wait_for() {
  for _ in $(seq 100); do
    if docker info --format '{{json .Runtimes}}' | jq -e --arg n "$name" 'has($n)' >/dev/null; then
      [ "$1" = yes ] && return 0
    else
      [ "$1" = no ] && return 0
    fi
    sleep 0.1
  done
  echo "gvisor.sh: the engine never $( [ "$1" = yes ] && echo listed || echo dropped ) runtime $name" >&2
  return 1
}

case ${1:-} in
register)
  if ! command -v runsc >/dev/null; then
    apt-get install -y runsc >/dev/null
  fi
  if [ ! -e "$backup" ] && [ ! -e "$absent" ]; then
    if [ -e "$conf" ]; then cp -p "$conf" "$backup"; else touch "$absent"; fi
  fi
  src=$conf
  [ -e "$conf" ] || src=/dev/null
  tmp=$(mktemp "$conf.XXXXXX")
  { cat "$src"; } | jq -s --arg n "$name" --arg p "$(command -v runsc)" \
    '(.[0] // {}) | .runtimes = ((.runtimes // {}) + {($n): {path: $p, runtimeArgs: ["--network=host"]}})' > "$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$conf"
  reload
  wait_for yes
  ;;
unregister)
  if [ ! -e "$backup" ] && [ ! -e "$absent" ]; then
    exit 0 # never registered
  fi
  tmp=$(mktemp "$conf.XXXXXX")
  { cat "$conf" 2>/dev/null || echo '{}'; } | jq '.runtimes = {}' > "$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$conf"
  reload
  wait_for no
  if [ -e "$backup" ]; then
    mv "$backup" "$conf"
    # Runtimes of the operator's own come back with one more reload.
    if jq -e '(.runtimes // {}) | length > 0' "$conf" >/dev/null; then reload; fi
  else
    rm -f "$conf" "$absent"
  fi
  ;;
*)
  echo "usage: gvisor.sh register|unregister" >&2
  exit 2
  ;;
esac
