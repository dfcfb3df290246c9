#!/usr/bin/env bash
# Wait until no container of a compose project is still `starting` its healthcheck (or a
# timeout passes): phase 0 should see the stack's steady state, not its first seconds.
# usage: wait_settled.sh <project-dir> [timeout-seconds]
set -euo pipefail
dir=$1
timeout=${2:-120}
deadline=$((SECONDS + timeout))
while :; do
  starting=$(docker compose --project-directory "$dir" ps --format '{{.Service}} {{.Health}}' | awk '$2 == "starting" {print $1}')
  [ -z "$starting" ] && exit 0
  if [ $SECONDS -ge $deadline ]; then
    echo "wait_settled: still starting after ${timeout}s: $(echo $starting)" >&2
    exit 0
  fi
  sleep 2
done
