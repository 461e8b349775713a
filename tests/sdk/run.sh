#!/usr/bin/env bash
# Official-SDK scenario tests (Python + JavaScript) against a real keyvault-emulator binary.
#
#   tests/sdk/run.sh                 # install what is missing or changed, run both suites
#   KVEMU_BIN=/path/to/keyvault-emulator tests/sdk/run.sh
#   SDK_TESTS=python tests/sdk/run.sh   # or SDK_TESTS=js: run only one suite
#
# Idempotent: the Python venv (tests/sdk/python/.venv) is reinstalled only when
# requirements.txt changes, and `npm ci` runs only when node_modules is missing or
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
# The identities and vaults of the identity scenarios (storage, app; vaults cmk and cmkrbac).
export KVEMU_CONFIG="${KVEMU_CONFIG:-$SDK_DIR/kvemu.toml}"

SUITES="${SDK_TESTS:-python js}"

hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- Python
setup_python() {
  local venv="$SDK_DIR/python/.venv" stamp="$SDK_DIR/python/.venv/.requirements.sha256" want
  want="$(hash_of "$SDK_DIR/python/requirements.txt")"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "run.sh: creating $venv"
    python3 -m venv "$venv"
  fi
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "run.sh: installing Python requirements"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$SDK_DIR/python/requirements.txt"
    echo "$want" >"$stamp"
  fi
}

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
    *)
      echo "run.sh: unknown suite '$suite' in SDK_TESTS (expected: python, js)" >&2
      exit 2
      ;;
  esac
done

printf 'run.sh: %s\n' "${results[@]}"
exit "$status"
