#!/usr/bin/env bash
# Official-SDK scenario tests (Python + JavaScript) against a real keyvault-emulator binary.
#
#   tests/sdk/run.sh                 # install what is missing or changed, run both suites
#   KVEMU_BIN=/path/to/keyvault-emulator tests/sdk/run.sh
#   SDK_TESTS=python tests/sdk/run.sh   # or SDK_TESTS=js: run only one suite
#   SDK_TESTS=examples tests/sdk/run.sh # the CMK walkthroughs in examples/ (Python and Node)
#   SDK_TESTS=compose tests/sdk/run.sh  # docker/docker-compose.yml's client scripts, without Docker
#   SDK_TESTS=crash tests/sdk/run.sh    # tests/crash/crash_safety.py, 10 SIGKILLs (python3 only, no venv)
#   SDK_TESTS=fuzz tests/sdk/run.sh     # tests/fuzz/run_schemathesis.sh: short schemathesis run, no 5xx/panic
#   SDK_TESTS=docker tests/sdk/run.sh   # tests/docker/run.sh: the image built and run on a container engine
#                                       # (started as root if none runs), compose v1 and v2, the
#                                       # Testcontainers modules of clients/; skipped without engine or root
#   SDK_TESTS=az tests/sdk/run.sh       # the Azure CLI (pinned azure-cli) through the admin flow, tests/sdk/az
#
# Idempotent: the Python venvs (tests/sdk/python/.venv, tests/sdk/az/.venv) are reinstalled only
# when their requirements.txt changes, and `npm ci` runs only when node_modules is missing or
# package-lock.json changes (hash stamp files). Works from any directory.
# Needs: python3 (with venv), node >= 20.6, npm; PyPI and the npm registry for installs.
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SDK_DIR/../.." && pwd)"
cd "$SDK_DIR"

KVEMU_BIN="${KVEMU_BIN:-$REPO_ROOT/target/debug/keyvault-emulator}"
case "$KVEMU_BIN" in /*) ;; *) KVEMU_BIN="$PWD/$KVEMU_BIN" ;; esac
if [[ ! -x "$KVEMU_BIN" ]]; then
  echo "run.sh: keyvault-emulator binary not found or not executable: $KVEMU_BIN" >&2
  echo "run.sh: build it first (cargo build) or set KVEMU_BIN" >&2
  exit 2
fi
export KVEMU_BIN
# A second vault with a 7-day retention and purge protection, for the soft-delete scenarios.
export KVEMU_VAULTS="${KVEMU_VAULTS:-protected:retention-days=7:purge-protection}"
# The Managed HSM of test_managed_hsm.py: activated, administered and used by the default identity.
export KVEMU_HSMS="${KVEMU_HSMS:-hsm1}"
# The identities and vaults of the identity scenarios (storage, app; vaults cmk and cmkrbac).
export KVEMU_CONFIG="${KVEMU_CONFIG:-$SDK_DIR/kvemu.toml}"

SUITES="${SDK_TESTS:-python js examples compose az crash fuzz docker}"

hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- Python venvs
# A venv under $SDK_DIR/$1 with $SDK_DIR/$1/requirements.txt installed, reinstalled only when that
# file changes (hash stamp); $2 names what is installed in the log line.
setup_venv() {
  local dir="$SDK_DIR/$1" venv="$SDK_DIR/$1/.venv" stamp="$SDK_DIR/$1/.venv/.requirements.sha256" want
  want="$(hash_of "$dir/requirements.txt")"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "run.sh: creating $venv"
    python3 -m venv "$venv"
  fi
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "run.sh: installing $2 ($1/requirements.txt)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$dir/requirements.txt"
    echo "$want" >"$stamp"
  fi
}

setup_python() { setup_venv python "the Python SDK requirements"; }

# azure-cli is large (about 700 MB installed, a few minutes to install): its own venv, so the SDK
# venv's pins never fight its own.
setup_az() { setup_venv az "azure-cli"; }

# ---------------------------------------------------------------- JavaScript
setup_js() {
  local stamp="$SDK_DIR/js/node_modules/.package-lock.sha256" want
  want="$(hash_of "$SDK_DIR/js/package-lock.json")"
  if [[ ! -d "$SDK_DIR/js/node_modules" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "run.sh: npm ci (tests/sdk/js)"
    (cd "$SDK_DIR/js" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

# ---------------------------------------------------------------- examples/
# The CMK walkthroughs, each started with one command as a user starts it, against one emulator
# with its defaults (no KVEMU_CONFIG/KVEMU_VAULTS) on a fresh data directory and free ports,
# configured only by the `export` lines of its banner; each runs twice (re-runnable), and the
# identities and the default vault's access policies must be as before. A subshell, so that its
# trap stops the emulator and removes its temporary files however it ends.
run_examples() (
  local tmp jsdir pid exports
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/kvemu-examples.XXXXXX")"
  # Node resolves `@azure/...` from the script's directory upwards: a copy of the script inside
  # tests/sdk/js finds tests/sdk/js/node_modules (ignored by git, removed by the trap).
  jsdir="$(mktemp -d "$SDK_DIR/js/.examples.XXXXXX")"
  trap 'if [[ -n "${pid:-}" ]]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$tmp" "$jsdir"' EXIT
  trap 'exit 130' INT TERM
  cp "$REPO_ROOT/examples/cosmos_cmk.mjs" "$jsdir/" || return 1
  env -u KVEMU_CONFIG -u KVEMU_VAULTS -u KVEMU_HSMS "$KVEMU_BIN" --data-dir "$tmp/data" --https-port 0 --http-port 0 \
    </dev/null >"$tmp/stdout" 2>"$tmp/stderr" &
  pid=$!
  emulator_output() { echo "run.sh: emulator output:" >&2; cat "$tmp/stdout" >&2; tail -c 8000 "$tmp/stderr" >&2; }
  local waited=0 limit=$(( ${KVEMU_READY_TIMEOUT:-30} * 10 ))
  until grep -qx ready "$tmp/stdout"; do
    if ! kill -0 "$pid" 2>/dev/null || (( ++waited > limit )); then
      echo "run.sh: the emulator did not print 'ready'" >&2
      emulator_output
      return 1
    fi
    sleep 0.1
  done
  exports="$(sed -n '/^ready$/q; /^export [A-Za-z_][A-Za-z0-9_]*=/p' "$tmp/stdout")"
  # Only the banner configures the examples (no admin or subscription from the caller's shell).
  unset AZURE_CLIENT_ID AZURE_CLIENT_SECRET AZURE_AUTHORITY_HOST AZURE_SUBSCRIPTION_ID AZURE_RESOURCE_MANAGER_ENDPOINT
  eval "$exports"
  local control="${IDENTITY_ENDPOINT%/msi/token}" before after
  before="$(curl -fsS "$control/_emulator/identities")$(curl -fsS "$control/_emulator/vaults/default/authorization")" || return 1
  # *.vault.localhost does not resolve everywhere: in CI both get a hook mapping it to 127.0.0.1
  # (Python: sitecustomize on PYTHONPATH; Node: --import), the scripts themselves are unchanged.
  local run
  for run in 1 2; do
    echo "run.sh: --- examples/storage_cmk.py (run $run)"
    PYTHONPATH="$SDK_DIR/localhost" "$SDK_DIR/python/.venv/bin/python" "$REPO_ROOT/examples/storage_cmk.py" \
      || { emulator_output; return 1; }
    echo "run.sh: --- examples/cosmos_cmk.mjs (run $run)"
    node --import "$SDK_DIR/js/resolve-localhost.mjs" "$jsdir/cosmos_cmk.mjs" || { emulator_output; return 1; }
  done
  after="$(curl -fsS "$control/_emulator/identities")$(curl -fsS "$control/_emulator/vaults/default/authorization")" || return 1
  if [[ "$before" != "$after" ]]; then
    echo "run.sh: the examples left identities or access policies behind:" >&2
    printf 'before: %s\nafter:  %s\n' "$before" "$after" >&2
    return 1
  fi
)

# ---------------------------------------------------------------- docker/ (compose)
# The client scripts of docker/docker-compose.yml, run outside Docker by compose/run_clients.py
# against $KVEMU_BIN started as the compose file starts it (docker/compose.toml). The Node client
# gets its own locked dependencies (docker/clients/node/package-lock.json).
setup_compose() {
  local dir="$REPO_ROOT/docker/clients/node" stamp want
  stamp="$dir/node_modules/.package-lock.sha256"
  want="$(hash_of "$dir/package-lock.json")"
  if [[ ! -d "$dir/node_modules" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "run.sh: npm ci (docker/clients/node)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}

status=0
results=()
for suite in $SUITES; do
  case "$suite" in
    python)
      setup_python
      echo "run.sh: === Python SDK tests (pytest) ==="
      if (cd "$SDK_DIR/python" && .venv/bin/python -m pytest); then
        results+=("python: passed")
      else
        results+=("python: FAILED"); status=1
      fi
      ;;
    js)
      setup_js
      echo "run.sh: === JavaScript SDK tests (node --test) ==="
      if (cd "$SDK_DIR/js" && node run.mjs); then
        results+=("js: passed")
      else
        results+=("js: FAILED"); status=1
      fi
      ;;
    examples)
      setup_python
      setup_js
      echo "run.sh: === CMK walkthrough examples (examples/) ==="
      if run_examples; then
        results+=("examples: passed")
      else
        results+=("examples: FAILED"); status=1
      fi
      ;;
    compose)
      setup_python
      setup_compose
      echo "run.sh: === compose environment clients (docker/clients, no Docker) ==="
      if "$SDK_DIR/python/.venv/bin/python" "$SDK_DIR/compose/run_clients.py"; then
        results+=("compose: passed")
      else
        results+=("compose: FAILED"); status=1
      fi
      ;;
    az)
      setup_az
      echo "run.sh: === Azure CLI admin flow (tests/sdk/az/admin_flow.py) ==="
      if "$SDK_DIR/az/.venv/bin/python" "$SDK_DIR/az/admin_flow.py" "$KVEMU_BIN"; then
        results+=("az: passed")
      else
        results+=("az: FAILED"); status=1
      fi
      ;;
    crash)
      echo "run.sh: === crash safety (tests/crash/crash_safety.py --kills 10) ==="
      if python3 "$REPO_ROOT/tests/crash/crash_safety.py" "$KVEMU_BIN" --kills 10; then
        results+=("crash: passed")
      else
        results+=("crash: FAILED"); status=1
      fi
      ;;
    fuzz)
      echo "run.sh: === schema fuzzing (tests/fuzz/run_schemathesis.sh, CI profile) ==="
      if "$REPO_ROOT/tests/fuzz/run_schemathesis.sh" --profile ci; then
        results+=("fuzz: passed")
      else
        results+=("fuzz: FAILED"); status=1
      fi
      ;;
    docker)
      echo "run.sh: === container image, compose v1 and v2, Testcontainers modules (tests/docker/run.sh) ==="
      if "$REPO_ROOT/tests/docker/run.sh"; then
        results+=("docker: passed")
      else
        results+=("docker: FAILED"); status=1
      fi
      ;;
    *)
      echo "run.sh: unknown suite '$suite' in SDK_TESTS (expected: python, js, examples, compose, az, crash, fuzz, docker)" >&2
      exit 2
      ;;
  esac
done

printf 'run.sh: %s\n' "${results[@]}"
exit "$status"
