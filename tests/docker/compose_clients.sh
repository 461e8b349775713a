#!/usr/bin/env bash
# docker/docker-compose.yml as a user runs it, with the compose command given as arguments
# (`docker compose` or `docker-compose`): `up --build -d`, both example clients must exit 0,
# the emulator healthy; then `down -v`. Free host ports (KVEMU_HOST_HTTPS_PORT/_HTTP_PORT) and a
# project name of its own, so that it clashes with nothing running on this machine.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
compose=("$@" -f "$REPO_ROOT/docker/docker-compose.yml")
export COMPOSE_PROJECT_NAME="kvemu-ci-$$"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KVEMU_HOST_HTTPS_PORT="$(free_port)"
KVEMU_HOST_HTTP_PORT="$(free_port)"
export KVEMU_HOST_HTTPS_PORT KVEMU_HOST_HTTP_PORT

down() { "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true; }
trap down EXIT

started=$SECONDS
log="$(mktemp)"
if ! "${compose[@]}" up --build -d >"$log" 2>&1; then
  tail -n 40 "$log"
  rm -f "$log"
  exit 1
fi
rm -f "$log"
# Each client runs once: wait for it to exit and take its exit code.
status=0
for client in python-client node-client; do
  id="$("${compose[@]}" ps -a -q "$client")"
  code="$(docker wait "$id")"
  echo "compose: $client exited $code"
  if [[ "$code" != 0 ]]; then status=1; "${compose[@]}" logs --no-color "$client" | tail -40; fi
done
health="$(docker inspect --format '{{.State.Health.Status}}' "$("${compose[@]}" ps -q kvemu)")"
echo "compose: kvemu is $health; clients done after $((SECONDS - started)) s"
[[ "$health" == healthy ]] || status=1
if [[ "$status" != 0 ]]; then "${compose[@]}" logs --no-color kvemu | tail -40; fi
exit "$status"
