#!/usr/bin/env bash
# Runs the client test suites; each suite starts its own real Medic server.
#
#   clients/run-tests.sh [python|go|ruby|typescript|all]...
#
# A suite whose toolchain is absent is skipped with the reason, unless
# MEDIC_REQUIRE_ALL_CLIENTS=1, which makes that a failure. MEDIC_PYTHON names the
# python that runs the server (default: the repo's .venv/bin/python, else python3).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
REQUIRE_ALL=${MEDIC_REQUIRE_ALL_CLIENTS:-0}
if [ -z "${MEDIC_PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then MEDIC_PYTHON=$REPO/.venv/bin/python; else MEDIC_PYTHON=python3; fi
fi
export MEDIC_PYTHON

# A hung server must not hang CI; suites normally take seconds.
if command -v timeout >/dev/null 2>&1; then LIMIT=(timeout 300); else LIMIT=(); fi

declare -a RESULTS=()
STATUS=0

absent() { # suite reason
  if [ "$REQUIRE_ALL" = 1 ]; then
    echo "FAIL $1: $2 (MEDIC_REQUIRE_ALL_CLIENTS=1)"
    RESULTS+=("$1 FAILED (toolchain absent)")
    STATUS=1
  else
    echo "SKIP $1: $2"
    RESULTS+=("$1 skipped ($2)")
  fi
}

ran() { # suite exit-code
  if [ "$2" -eq 0 ]; then RESULTS+=("$1 ok"); else RESULTS+=("$1 FAILED (exit $2)"); STATUS=1; fi
}

run_python() {
  local py=""
  for candidate in "$MEDIC_PYTHON" python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import pytest' 2>/dev/null; then py=$candidate; break; fi
  done
  if [ -z "$py" ]; then absent python "no python with pytest (tried $MEDIC_PYTHON, python3)"; return; fi
  echo "== python client ($py -m pytest)"
  (cd "$HERE/python" && "${LIMIT[@]}" "$py" -m pytest -p no:cacheprovider tests)
  ran python $?
}

run_go() {
  if ! command -v go >/dev/null 2>&1; then absent go "go not installed"; return; fi
  echo "== go client ($(go version))"
  # Standard library only: never reach for a module proxy.
  (
    cd "$HERE/go" || exit 1
    export GOFLAGS=-mod=mod GOPROXY=off
    # go refuses to run without a build cache location (no HOME in some CI shells).
    [ -n "${HOME:-}${GOCACHE:-}${XDG_CACHE_HOME:-}" ] || export GOCACHE=${TMPDIR:-/tmp}/medic-go-cache
    go vet ./... && "${LIMIT[@]}" go test -count=1 -v ./...
  )
  ran go $?
}

run_ruby() {
  if ! command -v ruby >/dev/null 2>&1; then absent ruby "ruby not installed"; return; fi
  if ! ruby -e 'require "minitest"' 2>/dev/null; then absent ruby "minitest not available"; return; fi
  echo "== ruby client ($(ruby -v))"
  (cd "$HERE/ruby" && "${LIMIT[@]}" ./run-tests --verbose)
  ran ruby $?
}

run_typescript() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then absent typescript "node/npm not installed"; return; fi
  if ! node -e 'process.exit(typeof fetch === "function" && +process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then
    absent typescript "node $(node -v) lacks global fetch (need >= 18)"; return
  fi
  echo "== typescript client (node $(node -v))"
  (
    cd "$HERE/typescript" || exit 1
    if [ ! -x node_modules/.bin/tsc ]; then npm ci --no-audit --no-fund || exit 1; fi
    "${LIMIT[@]}" npm test --silent
  )
  ran typescript $?
}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(all)
for suite in "${suites[@]}"; do
  case $suite in
    all) run_python; run_go; run_ruby; run_typescript ;;
    python | go | ruby | typescript) "run_$suite" ;;
    *) echo "usage: $0 [python|go|ruby|typescript|all]..." >&2; exit 2 ;;
  esac
done

echo
echo "client suites: ${RESULTS[*]/%/;}"
exit $STATUS
