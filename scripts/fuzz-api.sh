#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with Schemathesis (PyPI,
# pinned), on a fresh Debian machine (CI, a developer's box): installs it in a
# virtualenv, starts `pflow serve` on the embedded default with the examples,
# and runs every check twice: against a server without keys (loopback), and
# against one with keys, as an admin. Fails on any 5xx, any answer the document
# does not declare, or a server that stopped answering. The deliberate
# differences are in tests/fuzz/schemathesis.toml, each with its reason.
#
#   scripts/fuzz-api.sh                  both runs
#   PFLOW_FUZZ_SEED=123 scripts/fuzz-api.sh   another seed (CI uses a fixed one, so a failure reproduces)
#   PFLOW_FUZZ_RESULTS=file.json         where the tally goes (passed and failed operations), for .ci/run
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
TOOLS_DIR=${PFLOW_TOOLS_DIR:-/var/tmp/pflow-tools}
VENV="$TOOLS_DIR/schemathesis-$SCHEMATHESIS_VERSION"
SEED=${PFLOW_FUZZ_SEED:-20261206}
ADMIN_KEY="fuzz-admin-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
WORK=$(mktemp -d)
NODE=node_modules/.bin/node

# CPython 3.11 before 3.11.8 can fail inside Hypothesis with "AST constructor
# recursion depth mismatch" (CPython gh-106905): take a newer one where there is.
python_for_venv() {
  local candidate
  for candidate in "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3 \
    python3.13 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then echo "$candidate"; return 0; fi
  done
  echo "fuzz: no python3 found" >&2
  return 1
}

install_schemathesis() {
  if [ -x "$VENV/bin/schemathesis" ]; then return 0; fi
  echo "fuzz: installing schemathesis $SCHEMATHESIS_VERSION (PyPI) in $VENV"
  local python
  python=$(python_for_venv)
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

free_port() { "$NODE" -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$WORK"' EXIT

# fuzz NAME [KEYS]: one server, one Schemathesis run; its JUnit report in $WORK/NAME.xml.
fuzz() {
  local name=$1 keys=${2:-} port dir
  port=$(free_port)
  dir="$WORK/$name"
  mkdir -p "$dir"
  # Its own store, the examples registered, no rate limit to speak of (the fuzzer is the only client).
  (cd "$dir" && PFLOW_API_KEYS="$keys" PFLOW_RATE_LIMIT=100000000 PFLOW_PORT="$port" PFLOW_HOST=127.0.0.1 \
    PFLOW_LOG_LEVEL=warn exec "$ROOT/$NODE" "$ROOT/cli/pflow.js" serve --definitions "$ROOT/examples") \
    >"$dir/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  local auth=()
  [ -n "$keys" ] && auth=(--header "Authorization: Bearer $ADMIN_KEY")
  # A few real runs, so the operations on runs (reached through the document's links) meet ids that exist.
  local input
  for input in examples/inputs/*.json; do
    curl -fs -o /dev/null -X POST "http://127.0.0.1:$port/v1/workflows/$(basename "$input" .json)/runs?wait=10" \
      "${auth[@]}" -H 'content-type: application/json' --data-binary "{\"input\": $(cat "$input")}" ||
      echo "fuzz: $name: could not start a run of $input" >&2
  done
  local status=0
  echo "fuzz: $name: schemathesis on http://127.0.0.1:$port (seed $SEED)"
  # From its own folder: Schemathesis keeps a cache (.schemathesis/) where it runs.
  (cd "$dir" && "$VENV/bin/schemathesis" --config-file "$ROOT/tests/fuzz/schemathesis.toml" \
    run "http://127.0.0.1:$port/openapi.json" --checks all --seed "$SEED" --workers 2 --no-color \
    --request-timeout 30 --report junit --report-junit-path "$WORK/$name.xml" "${auth[@]}") || status=$?
  # A server that died or hangs fails the run, whatever the checks said.
  if ! kill -0 "$server_pid" 2>/dev/null || ! curl -fs --max-time 5 "http://127.0.0.1:$port/healthz" >/dev/null; then
    echo "fuzz: $name: the server stopped answering; its log:" >&2
    tail -50 "$dir/server.log" >&2
    status=1
  fi
  stop_server
  return "$status"
}

install_schemathesis
status=0
fuzz without-keys || status=1
fuzz with-keys "$ADMIN_KEY:admin" || status=1

# The tally, in the shape .ci/run reads for every suite: a test per operation and run.
"$NODE" -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (const file of process.argv.slice(2)) {
    const xml = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    for (const testcase of xml.split("<testcase").slice(1)) {
      if (/<(failure|error)[\s>]/.test(testcase.split("</testcase>")[0])) failed++;
      else passed++;
    }
  }
  console.log(`fuzz: ${passed} passed, ${failed} failed`);
  if (process.env.PFLOW_FUZZ_RESULTS)
    fs.writeFileSync(process.env.PFLOW_FUZZ_RESULTS, JSON.stringify({ numPassedTests: passed, numFailedTests: failed, numTotalTests: passed + failed }));
' "$WORK/without-keys.xml" "$WORK/with-keys.xml"
exit "$status"
