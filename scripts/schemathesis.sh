#!/usr/bin/env bash
# Property-based tests of the worker's REST API with schemathesis (PyPI):
# starts guestkit-worker with the API on a free loopback port and a submit
# token, runs every schemathesis check against its OpenAPI document, and
# fails on any 5xx, schema violation or other check failure.
#
#   scripts/schemathesis.sh                # debug build, default budget
#   SCHEMATHESIS_MAX_EXAMPLES=200 scripts/schemathesis.sh
#
# schemathesis is installed into a venv under target/ when it is absent
# (pinned below; SCHEMATHESIS_VERSION overrides). Its settings are in
# scripts/schemathesis.toml. Reports (JUnit, NDJSON) go to
# target/schemathesis/report.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/schemathesis-venv"
WORK="$TARGET/schemathesis"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-50}"
SEED="${SCHEMATHESIS_SEED:-}"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -qF "$VERSION"; then
    echo "schemathesis.sh: installing schemathesis $VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
fi

BIN="${GUESTKIT_WORKER_BIN:-}"
if [[ -z "$BIN" ]]; then
    cargo build --quiet -p guestkit-worker --bin guestkit-worker
    BIN="$TARGET/debug/guestkit-worker"
fi

rm -rf "$WORK"
mkdir -p "$WORK/report"
TOKEN="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

WORKER_PID=""
cleanup() {
    if [[ -n "$WORKER_PID" ]] && kill -0 "$WORKER_PID" 2>/dev/null; then
        kill -TERM "$WORKER_PID" 2>/dev/null || true
        # Jobs left running are cancelled after the grace period (1 s).
        for _ in $(seq 50); do
            kill -0 "$WORKER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$WORKER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# No rate limit (schemathesis is one fast client); the demo directory is
# the image root, so schema-valid documents naming demo.qcow2 run.
GUESTKIT_API_TOKENS="submit:$TOKEN" GUESTKIT_LOG=warn "$BIN" \
    --worker-id schemathesis \
    --jobs-dir "$WORK/jobs" --results-dir "$WORK/results" --state-dir "$WORK/state" \
    --image-root "$ROOT/demo" \
    --max-concurrent 2 --grace-seconds 1 \
    --api-enabled --api-addr "127.0.0.1:$PORT" --api-rate-limit 0 \
    >"$WORK/worker.log" 2>&1 &
WORKER_PID=$!

for _ in $(seq 200); do
    if curl -fsS "$BASE/health" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$WORKER_PID" 2>/dev/null; then
        echo "schemathesis.sh: the worker exited; its log:" >&2
        cat "$WORK/worker.log" >&2
        exit 1
    fi
    sleep 0.1
done

args=(
    --config-file "$ROOT/scripts/schemathesis.toml"
    run "$BASE/api/v1/openapi.json"
    -H "Authorization: Bearer $TOKEN"
    --max-examples "$MAX_EXAMPLES"
    --workers 1
    --request-timeout 10
    --report junit,ndjson --report-dir "$WORK/report"
)
if [[ -n "$SEED" ]]; then
    args+=(--seed "$SEED")
fi
status=0
# Run from the work directory: schemathesis keeps its cache (.schemathesis/)
# in the current directory.
(cd "$WORK" && SCHEMATHESIS_HOOKS= "$VENV/bin/schemathesis" "${args[@]}") || status=$?

if grep -qi "panicked" "$WORK/worker.log"; then
    echo "schemathesis.sh: the worker panicked; its log:" >&2
    cat "$WORK/worker.log" >&2
    status=1
fi
if ! kill -0 "$WORKER_PID" 2>/dev/null; then
    echo "schemathesis.sh: the worker died during the run; its log:" >&2
    cat "$WORK/worker.log" >&2
    status=1
fi
exit "$status"
