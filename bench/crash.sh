#!/usr/bin/env bash
# Crash test of `modelmix serve` (issue 28; docs/ledger.md, "Crash consistency"): load through one or more replicas on
# one store (a budgeted virtual key, a mix of streaming and non-streaming requests, FakeAnthropic answering after a
# delay so many calls are in flight), `kill -9` of the first replica in the middle of the load, a restart, then — once
# the dead process's attempt intents and budget holds are reconciled — the upstream's count of calls served against
# the ledger's rows and the budget's spend against the ledger's sum.
#
#   bench/crash.sh                                   # SQLite, 1 replica, 20 s of load at 64 concurrent clients
#   bench/crash.sh --store postgres://u:p@127.0.0.1:5432/db --replicas 3 --clients 128 --duration 30
#   bench/crash.sh --out FILE                        # also write the summary (markdown) to FILE
#   bench/crash.sh --intents off                     # the same run with the intent journal off (ModelMix__Intents__Enabled=false)
#
# Needs: dotnet (builds the CLI and FakeAnthropic in Release), node (>= 18), python3; psql for a PostgreSQL store
# (the database must exist and be empty). Everything listens on 127.0.0.1, stops by itself, and removes its files.
set -euo pipefail

DURATION=20
CLIENTS=64
REPLICAS=1
STORE=""
DELAY_MS=200
OUT=""
INTENTS_ON=true
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --replicas) REPLICAS="$2"; shift 2 ;;
    --store) STORE="$2"; shift 2 ;;
    --delay-ms) DELAY_MS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --intents) case "$2" in on) INTENTS_ON=true ;; off) INTENTS_ON=false ;; *) echo "--intents must be on or off" >&2; exit 2 ;; esac; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 4 && "$DURATION" -le 3600 ]] || { echo "--duration must be 4..3600 seconds" >&2; exit 2; }
[[ "$REPLICAS" =~ ^[0-9]+$ && "$REPLICAS" -ge 1 && "$REPLICAS" -le 8 ]] || { echo "--replicas must be 1..8" >&2; exit 2; }
[[ -z "$STORE" && "$REPLICAS" -gt 1 ]] && { echo "several replicas need a shared --store (PostgreSQL)" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI_DLL="$ROOT/src/ModelMix.Cli/bin/Release/net10.0/ModelMix.Cli.dll"
FAKE_DLL="$ROOT/tests/FakeAnthropic/bin/Release/net10.0/FakeAnthropic.dll"
WORK="$(mktemp -d)"
STORE="${STORE:-$WORK/crash.db}"
PIDS=()
log() { printf '[crash] %s\n' "$*" >&2; }
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 300); do python3 -c "import urllib.request; urllib.request.urlopen('$1', timeout=1)" 2>/dev/null && return 0; sleep 0.2; done; log "no answer from $1"; exit 1; }
sql() { # one query, one value
  if [[ "$STORE" == postgres* ]]; then psql "$STORE" -tAc "$1"; else sqlite3 "$STORE" "$1"; fi
}

log "building (Release)"
dotnet build "$ROOT/src/ModelMix.Cli" -c Release -v q -nologo >/dev/null
dotnet build "$ROOT/tests/FakeAnthropic" -c Release -v q -nologo >/dev/null

FAKE_PORT=$(free_port)
dotnet "$FAKE_DLL" --urls "http://127.0.0.1:$FAKE_PORT" --delay-ms "$DELAY_MS" >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $FAKE_PORT), 1)" 2>/dev/null && break; sleep 0.2; done
cd "$WORK"
dotnet "$CLI_DLL" migrate --store "$STORE" >/dev/null 2>&1 || true
KEY="$(dotnet "$CLI_DLL" keys create --name crash --budget 100000/total --db "$STORE" | tail -n 1)"

declare -a PORT PID
start_replica() { # index
  PORT[$1]=$(free_port)
  ANTHROPIC_API_KEY=sk-crash-upstream ModelMix__MaxRetries=0 ModelMix__ReservationTtl=00:00:05 ModelMix__Budgets__SweepInterval=00:00:01 \
    ModelMix__Intents__Enabled=$INTENTS_ON ModelMix__Intents__HeartbeatInterval=00:00:00.500 ModelMix__Intents__StaleAfter=00:00:03 ModelMix__Intents__SweepInterval=00:00:00.500 \
    Logging__LogLevel__Default=Warning \
    dotnet "$CLI_DLL" serve --urls "http://127.0.0.1:${PORT[$1]}" --upstream "http://127.0.0.1:$FAKE_PORT/" --db "$STORE" >>"$WORK/proxy-$1.log" 2>&1 &
  PID[$1]=$!
  PIDS+=("${PID[$1]}")
  wait_http "http://127.0.0.1:${PORT[$1]}/healthz"
}
for i in $(seq 0 $((REPLICAS - 1))); do start_replica "$i"; done
URLS="$(for i in $(seq 0 $((REPLICAS - 1))); do printf 'http://127.0.0.1:%s/ ' "${PORT[$i]}"; done)"

log "load: $CLIENTS clients over $REPLICAS replica(s) for ${DURATION}s; kill -9 of replica 0 at $((DURATION / 2))s"
cat >"$WORK/load.mjs" <<'JS'
const [key, duration, clients, ...urls] = process.argv.slice(2);
const end = Date.now() + Number(duration) * 1000;
let sent = 0, answered = 0, failed = 0;
async function client(n) {
  for (let i = 0; Date.now() < end; i++) {
    const stream = (n + i) % 2 === 0;
    const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 64, stream, messages: [{ role: 'user', content: `crash ${n}-${i}` }] });
    sent++;
    try {
      const r = await fetch(urls[(n + i) % urls.length] + 'v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key }, body, signal: AbortSignal.timeout(60000) });
      const text = await r.text();
      if (r.status === 200 && (stream ? text.includes('message_stop') : text.includes('"usage"'))) answered++; else failed++;
    } catch { failed++; await new Promise(res => setTimeout(res, 20)); }
  }
}
await Promise.all(Array.from({ length: Number(clients) }, (_, n) => client(n)));
console.log(JSON.stringify({ sent, answered, failed }));
JS
# shellcheck disable=SC2086 # the URLs are words on purpose
node "$WORK/load.mjs" "$KEY" "$DURATION" "$CLIENTS" $URLS >"$WORK/load.json" &
LOAD=$!
sleep $((DURATION / 2))
kill -9 "${PID[0]}"
served() { python3 -c "import urllib.request as u, json; print(json.loads(u.urlopen(u.Request('http://127.0.0.1:$FAKE_PORT/_fake/served', headers={'x-api-key': 'sk-crash-upstream', 'anthropic-version': '2023-06-01'}), timeout=5).read())['served'])"; }
# What the store holds the instant after the kill (the other replicas keep writing meanwhile): calls served so far,
# rows, budget spent, open intents.
KILL_SERVED="$(served)"
KILL_ROWS="$(sql "SELECT COUNT(*) FROM ledger_records")"
KILL_SPENT_NANOS="$(sql "SELECT COALESCE(SUM(spent_nanos), 0) FROM budget_counters WHERE period = 'total'")"
KILL_INTENTS="$(sql "SELECT COUNT(*) FROM ledger_intents")"
LOADAVG="$(cut -d ' ' -f 1-3 /proc/loadavg)"
log "killed replica 0 (pid ${PID[0]}); restarting it in 1 s"
sleep 1
start_replica 0
wait "$LOAD"

log "waiting for the dead process's intents and holds to be reconciled"
for _ in $(seq 1 600); do
  [[ "$(sql "SELECT COUNT(*) FROM ledger_intents")" == 0 && "$(sql "SELECT COUNT(*) FROM budget_reservations WHERE reclaimed_at IS NULL")" == 0 ]] && break
  sleep 0.5
done
SERVED="$(served)"
for i in $(seq 0 $((REPLICAS - 1))); do kill -TERM "${PID[$i]}"; done
for i in $(seq 0 $((REPLICAS - 1))); do wait "${PID[$i]}" 2>/dev/null || true; done

ROWS="$(sql "SELECT COUNT(*) FROM ledger_records")"
UNKNOWN="$(sql "SELECT COUNT(*) FROM ledger_records WHERE status = 'outcome_unknown'")"
WITH_ID="$(sql "SELECT COUNT(*) FROM ledger_records WHERE upstream_request_id IS NOT NULL")"
DISTINCT="$(sql "SELECT COUNT(DISTINCT request_id) FROM ledger_records")"
INTENTS="$(sql "SELECT COUNT(*) FROM ledger_intents")"
if [[ "$STORE" == postgres* ]]; then
  LEDGER_SUM="$(sql "SELECT COALESCE(SUM(cost_total), 0) FROM ledger_records")"
else
  LEDGER_SUM="$(python3 -c "
import sqlite3, decimal
db = sqlite3.connect('$STORE')
print(sum((decimal.Decimal(c) for (c,) in db.execute('SELECT cost_total FROM ledger_records WHERE cost_total IS NOT NULL')), decimal.Decimal(0)))")"
fi
SPENT_NANOS="$(sql "SELECT COALESCE(SUM(spent_nanos), 0) FROM budget_counters WHERE period = 'total'")"
RESERVED_NANOS="$(sql "SELECT COALESCE(SUM(reserved_nanos), 0) FROM budget_counters WHERE period = 'total'")"

python3 - "$WORK/load.json" "$SERVED" "$ROWS" "$UNKNOWN" "$WITH_ID" "$DISTINCT" "$INTENTS" "$LEDGER_SUM" "$SPENT_NANOS" "$RESERVED_NANOS" "$REPLICAS" "$CLIENTS" "$DURATION" "$OUT" "$INTENTS_ON" "$KILL_SERVED" "$KILL_ROWS" "$KILL_SPENT_NANOS" "$KILL_INTENTS" "$LOADAVG" <<'PY'
import json, sys, decimal
load = json.load(open(sys.argv[1]))
served, rows, unknown, with_id, distinct, intents = map(int, sys.argv[2:8])
ledger = decimal.Decimal(sys.argv[8])
spent = decimal.Decimal(int(sys.argv[9])) / decimal.Decimal(10**9)
reserved = int(sys.argv[10])
replicas, clients, duration, out = sys.argv[11], sys.argv[12], sys.argv[13], sys.argv[14]
intents_on = sys.argv[15] == "true"
kill_served, kill_rows, kill_spent_nanos, kill_intents = map(int, sys.argv[16:20])
loadavg = sys.argv[20]
lines = [
  f"- load: {replicas} replica(s), {clients} clients, {duration} s, intent journal {'on' if intents_on else 'off'}, kill -9 of one replica half-way (load average {loadavg} at the kill): {load['sent']} requests sent, {load['answered']} answered, {load['failed']} cut or refused",
  f"- at the kill: {kill_served} calls served, {kill_rows} ledger rows, budget spent ${decimal.Decimal(kill_spent_nanos) / decimal.Decimal(10**9)}, {kill_intents} intents pending",
  f"- upstream: FakeAnthropic served {served} calls",
  f"- ledger: {rows} rows for {distinct} request ids ({with_id} with the upstream's request id, {unknown} outcome_unknown from intents); {intents} intents left",
  f"- budget: spent ${spent} (reserved {reserved} nano-dollars) against the ledger's ${ledger}",
]
ok = True
if rows < served:
  lines.append(f"- FAIL: {served - rows} upstream calls are not in the ledger"); ok = False
if rows - served > int(clients):
  lines.append(f"- FAIL: {rows - served} more rows than served calls (more than the clients in flight)"); ok = False
if distinct != rows:
  lines.append(f"- FAIL: {rows - distinct} request ids with more than one row (no retries in this run)"); ok = False
if reserved != 0 or intents != 0:
  lines.append("- FAIL: holds or intents left after reconciliation"); ok = False
if abs(spent - ledger) > decimal.Decimal('0.000000001') * rows:
  lines.append(f"- FAIL: budget spent ${spent} differs from the ledger's ${ledger}"); ok = False
if ok:
  lines.append(f"- check: every served call has a row ({rows - served} rows for calls the kill cut before they reached the upstream), no request twice, budget = ledger (to the nano-dollar per row), nothing left pending")
text = "\n".join(lines)
print(text)
if out:
  open(out, "w").write(text + "\n")
sys.exit(0 if ok else 1)
PY
