#!/usr/bin/env bash
# Schema-driven fuzzing of keyvault-emulator with schemathesis: every operation of
# openapi/openapi.yaml against $KVEMU_BIN --in-memory on free ports; fails on any 5xx response,
# a crash, or "panicked at" in the emulator's stderr (details: run_schemathesis.py).
#
#   tests/fuzz/run_schemathesis.sh                   # the short CI profile
#   tests/fuzz/run_schemathesis.sh --profile full --out /tmp/fuzz   # the full run (>= 10,000 requests)
#   KVEMU_BIN=/path/to/keyvault-emulator tests/fuzz/run_schemathesis.sh
#
# Installs schemathesis (tests/fuzz/requirements.txt, exact pins) into tests/fuzz/.venv on first
# use and again whenever that file changes (hash stamp). Needs python3 with venv, and PyPI.
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$FUZZ_DIR/../.." && pwd)"
KVEMU_BIN="${KVEMU_BIN:-$REPO_ROOT/target/debug/keyvault-emulator}"
case "$KVEMU_BIN" in /*) ;; *) KVEMU_BIN="$PWD/$KVEMU_BIN" ;; esac
export KVEMU_BIN

venv="$FUZZ_DIR/.venv" stamp="$FUZZ_DIR/.venv/.requirements.sha256"
want="$(sha256sum "$FUZZ_DIR/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" ]]; then
  echo "fuzz: creating $venv"
  python3 -m venv "$venv"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "fuzz: installing schemathesis"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$FUZZ_DIR/requirements.txt"
  echo "$want" >"$stamp"
fi

exec "$venv/bin/python" "$FUZZ_DIR/run_schemathesis.py" "$@"
