#!/usr/bin/env bash
# Proxy load benchmark: how many requests per second ModelMix's `serve` passes, and how much latency it adds,
# against a fast local upstream (nginx answering a fixed Anthropic message), compared with calling that upstream
# directly and with the Portkey gateway (node) in front of it. Also checks that a streamed answer's first event
# comes through ModelMix as soon as the upstream sends it, and that the ledger has one row per answered request.
#
# Everything runs on 127.0.0.1, is bounded in time, and stops by itself; temp files are removed at the end.
#
#   bench/proxy-load.sh                 # --duration 12: rounds of 6 s for direct and ModelMix, one 12 s run for Portkey
#                                       # (a 2 s warm-up before each; each proxy first gets 20 s of load)
#   bench/proxy-load.sh --duration 20   # longer runs (rounds of 10 s)
#   bench/proxy-load.sh --rounds 6      # 6 alternating rounds of direct and ModelMix at each connection count (default 4)
#   bench/proxy-load.sh --quick         # a smoke check: --duration 3 (rounds of 1 s), 2 rounds, short warm-ups
#   bench/proxy-load.sh --out FILE      # also write the summary (markdown) to FILE
#   bench/proxy-load.sh --modelmix-only # skip direct and Portkey (and the goal table): ModelMix's own figures only
#
# At 64 and at 4 connections, direct and ModelMix alternate in --rounds rounds of --duration/2 s each and the table
# gives the median of the rounds (every round is listed under it): the shared host's speed drifts by more than the
# goals' margins within a minute (its latency at 4 connections, and its throughput at 64: a 12 s window of ModelMix
# measured 14,600–19,100 req/s in six fresh processes of one build, its user and kernel time per request rising
# together), and alternating puts both in the same phases. Portkey, far from its goal, runs once at each.
#
# Besides req/s and latency it reports ModelMix's CPU time and bytes allocated per request in each run (from /proc and
# the runtime's own metrics at /metrics): they move less than req/s when other work shares the cores, though a slow
# phase of the host raises them too.
#
# Installs what it needs when missing: wrk, nginx (+ its echo module), sqlite3, curl from Debian; the Portkey
# gateway from npm into bench/portkey/ (pinned by bench/portkey/package-lock.json).
set -euo pipefail

DURATION=12
WARMUP=2
ROUNDS=4            # alternating rounds of direct and ModelMix at each connection count
JIT_WARMUP=20       # seconds of load on each proxy before any measurement (the .NET tiered JIT and node's JIT settle)
OUT=""
STREAM_RUNS=20
ONLY_MMX=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --duration=*) DURATION="${1#*=}"; shift ;;
    --quick) DURATION=3; WARMUP=1; JIT_WARMUP=3; STREAM_RUNS=5; ROUNDS=2; shift ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --rounds=*) ROUNDS="${1#*=}"; shift ;;
    --modelmix-only) ONLY_MMX=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --out=*) OUT="${1#*=}"; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 300 ]] || { echo "--duration must be 1..300 seconds" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 20 ]] || { echo "--rounds must be 1..20" >&2; exit 2; }
ROUND_DURATION=$(( DURATION / 2 > 0 ? DURATION / 2 : 1 ))

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIXTURES="${MODELMIX_FIXTURES:-$ROOT/../shared/fixtures/anthropic}"
RESPONSE_JSON="$FIXTURES/messages/response-text.json"
STREAM_SSE="$FIXTURES/streaming/text.sse"
PORTKEY_DIR="$ROOT/bench/portkey"
CLI_DLL="$ROOT/src/ModelMix.Cli/bin/Release/net10.0/ModelMix.Cli.dll"
THREADS=2
HIGH=64
LOW=4
STREAM_DELAY=0.3   # seconds the upstream waits between the first SSE event and the rest

log() { printf '[proxy-load] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$RESPONSE_JSON" && -f "$STREAM_SSE" ]] || die "fixtures not found under $FIXTURES (set MODELMIX_FIXTURES)"

# ---------------------------------------------------------------------------------------------------------------
# Installs
# ---------------------------------------------------------------------------------------------------------------
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
command -v curl >/dev/null || missing+=(curl)
[[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]] || missing+=(libnginx-mod-http-echo)
[[ ${#missing[@]} -eq 0 ]] || apt_install "${missing[@]}"
command -v node >/dev/null || die "node not found (Node 20+ is needed for the Portkey gateway and the stream client)"
command -v dotnet >/dev/null || die "dotnet not found"

PORTKEY_OK=1
PORTKEY_WHY=""
[[ $ONLY_MMX -eq 1 ]] && { PORTKEY_OK=0; PORTKEY_WHY="skipped (--modelmix-only)"; }
PORTKEY_JS="$PORTKEY_DIR/node_modules/@portkey-ai/gateway/build/start-server.js"
PORTKEY_VERSION="$(node -p "require('$PORTKEY_DIR/package.json').dependencies['@portkey-ai/gateway']" 2>/dev/null || echo '?')"
if [[ $ONLY_MMX -eq 0 ]] && { [[ ! -f "$PORTKEY_JS" ]] || ! node -e "process.exit(require('$PORTKEY_DIR/node_modules/@portkey-ai/gateway/package.json').version === '$PORTKEY_VERSION' ? 0 : 1)" 2>/dev/null; }; then
  log "npm ci in bench/portkey (@portkey-ai/gateway $PORTKEY_VERSION)"
  if ! (cd "$PORTKEY_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
    PORTKEY_OK=0
    PORTKEY_WHY="npm ci of @portkey-ai/gateway $PORTKEY_VERSION failed"
  fi
fi

log "dotnet build -c Release src/ModelMix.Cli"
(cd "$ROOT" && dotnet build -c Release src/ModelMix.Cli -nologo -v q >/dev/null) || die "dotnet build failed"
[[ -f "$CLI_DLL" ]] || die "$CLI_DLL not built"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------------------------------------------
# Processes and cleanup
# ---------------------------------------------------------------------------------------------------------------
# shellcheck source=bench/lib/upstream.sh
source "$ROOT/bench/lib/upstream.sh"
start_workspace proxy-load

# ---------------------------------------------------------------------------------------------------------------
# (1) nginx: the fast upstream
# ---------------------------------------------------------------------------------------------------------------
start_nginx_upstream

# ---------------------------------------------------------------------------------------------------------------
# (2) ModelMix: full pipeline (routing via model "auto", pricing, SQLite ledger), no keys, loopback only
# ---------------------------------------------------------------------------------------------------------------
MMX_PORT="$(free_port)"
MMX_DB="$TMP/ledger.db"
ANTHROPIC_API_KEY=bench-key Logging__LogLevel__Default=Warning \
  dotnet "$CLI_DLL" serve --urls "http://127.0.0.1:$MMX_PORT" --upstream "http://127.0.0.1:$NGINX_PORT/" --db "$MMX_DB" \
  >"$TMP/modelmix.log" 2>&1 &
MMX_PID=$!
PIDS+=($MMX_PID)
MMX_URL="http://127.0.0.1:$MMX_PORT/v1/messages"
wait_http "http://127.0.0.1:$MMX_PORT/healthz" ModelMix
log "ModelMix on 127.0.0.1:$MMX_PORT (pid $MMX_PID)"

# ---------------------------------------------------------------------------------------------------------------
# (3) Portkey gateway (node), held to 127.0.0.1 by a preload (it has no listen-address option of its own)
# ---------------------------------------------------------------------------------------------------------------
PK_PORT=""
PK_URL=""
if [[ $PORTKEY_OK -eq 1 ]]; then
  PK_PORT="$(free_port)"
  cat > "$TMP/loopback.cjs" <<'EOF'
// Makes any server that listens on a bare port listen on 127.0.0.1 only.
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, args[1] === undefined ? 1 : 0, '127.0.0.1');
  else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) args[0] = { ...args[0], host: '127.0.0.1' };
  return listen.apply(this, args);
};
EOF
  (cd "$TMP" && NODE_ENV=production exec node -r "$TMP/loopback.cjs" "$PORTKEY_JS" "--port=$PK_PORT" --headless) >"$TMP/portkey.log" 2>&1 &
  PIDS+=($!)
  PK_URL="http://127.0.0.1:$PK_PORT/v1/messages"
  if ! (wait_http "http://127.0.0.1:$PK_PORT/" Portkey) 2>/dev/null; then
    PORTKEY_OK=0; PORTKEY_WHY="the gateway did not start: $(tail -3 "$TMP/portkey.log" | tr '\n' ' ')"
  fi
fi

# ---------------------------------------------------------------------------------------------------------------
# Request bodies (wrk Lua) and a sanity check of each target
# ---------------------------------------------------------------------------------------------------------------
write_lua "$TMP/direct.lua" "claude-haiku-4-5" ""
write_lua "$TMP/modelmix.lua" "auto" ""
write_lua "$TMP/portkey.lua" "claude-haiku-4-5" "wrk.headers[\"x-portkey-provider\"] = \"anthropic\"
wrk.headers[\"x-portkey-custom-host\"] = \"http://127.0.0.1:$NGINX_PORT/v1\""

check_target() { # name url lua-file -> 0 if a POST gets 200 and a JSON body with the fixture's id
  local name="$1" url="$2" lua="$3" args=()
  local body; body="$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$lua")"
  while IFS= read -r header; do args+=(-H "$header"); done < <(sed -n 's/^wrk.headers\["\(.*\)"\] = "\(.*\)"$/\1: \2/p' "$lua")
  local code
  code="$(curl -s -o "$TMP/check-$name.json" -w '%{http_code}' --max-time 10 -X POST "${args[@]}" --data "$body" "$url" || true)"
  if [[ "$code" != 200 ]] || ! grep -q '"msg_01Hs9vKq3XbTnW7dYcRpL2mF"' "$TMP/check-$name.json"; then
    log "$name: POST answered $code: $(head -c 300 "$TMP/check-$name.json" 2>/dev/null)"
    return 1
  fi
}
check_target direct "$DIRECT_URL" "$TMP/direct.lua" || die "nginx does not answer the fixture"
check_target modelmix "$MMX_URL" "$TMP/modelmix.lua" || die "ModelMix does not relay the fixture (log: $(tail -5 "$TMP/modelmix.log"))"
MMX_SANITY=1  # that one request is in the ledger too
if [[ $PORTKEY_OK -eq 1 ]] && ! check_target portkey "$PK_URL" "$TMP/portkey.lua"; then
  PORTKEY_OK=0; PORTKEY_WHY="the gateway did not relay the fixture: $(head -c 200 "$TMP/check-portkey.json" 2>/dev/null)"
fi
[[ $PORTKEY_OK -eq 1 ]] && log "Portkey $PORTKEY_VERSION on 127.0.0.1:$PK_PORT" || log "Portkey skipped: $PORTKEY_WHY"

# ---------------------------------------------------------------------------------------------------------------
# Load runs
# ---------------------------------------------------------------------------------------------------------------
to_us() { # wrk latency ("28.00us", "1.23ms", "2.00s") -> microseconds
  awk -v v="$1" 'BEGIN{n=v+0; if (v ~ /us$/) f=1; else if (v ~ /ms$/) f=1000; else if (v ~ /m$/) f=60000000; else if (v ~ /s$/) f=1000000; else f=1; printf "%.0f", n*f}'
}

declare -A RPS P50 P99 ERRS CPU_US ALLOC_KB RUNS TICKS ALLOC_B REQS
# ModelMix's CPU time (user + system, in clock ticks) and the runtime's count of bytes allocated so far.
mmx_cpu_ticks() { awk '{print $14 + $15}' "/proc/$MMX_PID/stat"; }
mmx_alloc_bytes() { curl -s --max-time 5 "http://127.0.0.1:$MMX_PORT/metrics" | awk '/^dotnet_gc_heap_total_allocated_bytes_total[ {]/{v = $NF} END {print v}' || true; }
median_of() { # numbers as arguments -> their median (median, bench/lib/upstream.sh), rounded to a whole number
  printf '%s\n' "$@" | median | awk 'NF {printf "%.0f\n", $1}'
}
MMX_ANSWERED=0
MMX_INFLIGHT_MAX=0
RUN_COUNT=0
run_wrk() { # name url lua connections seconds: one measured run (after a warm-up); appends its figures to RUNS
  local name="$1" url="$2" lua="$3" conns="$4" seconds="$5" out
  RUN_COUNT=$((RUN_COUNT + 1)); out="$TMP/wrk-$name-$conns-$RUN_COUNT.txt"
  wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" -s "$lua" "$url" >"$TMP/warmup-$name-$conns-$RUN_COUNT.txt" 2>&1 || true
  log "wrk $name, $conns connections, ${seconds}s"
  local ticks0=0 alloc0=0
  if [[ "$name" == modelmix ]]; then ticks0="$(mmx_cpu_ticks)"; alloc0="$(mmx_alloc_bytes)"; fi
  wrk -t"$THREADS" -c"$conns" -d"${seconds}s" --timeout 10s --latency -s "$lua" "$url" >"$out" 2>&1 || true
  local reqs rps p50 p99 non2xx sockerr
  reqs="$(awk '/requests in/{print $1}' "$out")"
  if [[ "$name" == modelmix ]]; then
    local ticks1 alloc1
    ticks1="$(mmx_cpu_ticks)"; alloc1="$(mmx_alloc_bytes)"
    TICKS[$conns]=$(( ${TICKS[$conns]:-0} + ticks1 - ticks0 ))
    ALLOC_B[$conns]="$(awk -v s="${ALLOC_B[$conns]:-0}" -v a="${alloc1:-0}" -v b="${alloc0:-0}" 'BEGIN{ printf "%.0f", (a > 0 && b > 0) ? s + a - b : -1e18 }')"
    REQS[$conns]=$(( ${REQS[$conns]:-0} + ${reqs:-0} ))
  fi
  rps="$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$out")"
  p50="$(to_us "$(awk '/^ +50%/{print $2}' "$out")")"
  p99="$(to_us "$(awk '/^ +99%/{print $2}' "$out")")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/{print $NF}' "$out")"
  sockerr="$(awk '/Socket errors:/{gsub(",","");print $4+$6+$8+$10}' "$out")"
  RUNS[$name,$conns]+="${RUNS[$name,$conns]:+;}${rps:-0} ${p50:-0} ${p99:-0}"
  ERRS[$name,$conns]=$(( ${ERRS[$name,$conns]:-0} + ${non2xx:-0} + ${sockerr:-0} ))
  if [[ "$name" == modelmix ]]; then
    local f n
    for f in "$TMP/warmup-$name-$conns-$RUN_COUNT.txt" "$out"; do
      n="$(awk '/requests in/{print $1}' "$f")"
      MMX_ANSWERED=$(( MMX_ANSWERED + ${n:-0} ))
      MMX_INFLIGHT_MAX=$(( MMX_INFLIGHT_MAX + conns ))
    done
  fi
}
summarize_runs() { # name connections: RPS, P50, P99 = the medians of its runs
  local name="$1" conns="$2" run rps=() p50=() p99=() a b c
  IFS=';' read -ra runs <<<"${RUNS[$name,$conns]}"
  for run in "${runs[@]}"; do read -r a b c <<<"$run"; rps+=("$a"); p50+=("$b"); p99+=("$c"); done
  RPS[$name,$conns]="$(median_of "${rps[@]}")"; P50[$name,$conns]="$(median_of "${p50[@]}")"; P99[$name,$conns]="$(median_of "${p99[@]}")"
}

TARGETS=(direct modelmix)
[[ $ONLY_MMX -eq 1 ]] && TARGETS=(modelmix)
[[ $PORTKEY_OK -eq 1 ]] && TARGETS+=(portkey)

# A proxy just started runs its first seconds far slower (ModelMix: tier-0 code, then tier-1 compiles competing for
# the same 2 cores), so each proxy first gets JIT_WARMUP seconds of load at $HIGH connections, not measured.
log "JIT warm-up: ${JIT_WARMUP}s of load on each proxy"
wrk -t"$THREADS" -c"$HIGH" -d"${JIT_WARMUP}s" -s "$TMP/modelmix.lua" "$MMX_URL" >"$TMP/jit-modelmix.txt" 2>&1 || true
MMX_ANSWERED=$(( MMX_ANSWERED + $(awk '/requests in/{print $1}' "$TMP/jit-modelmix.txt") ))
MMX_INFLIGHT_MAX=$(( MMX_INFLIGHT_MAX + HIGH ))
MMX_COLD_RPS="$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$TMP/jit-modelmix.txt")"
PK_COLD_RPS=""
if [[ $PORTKEY_OK -eq 1 ]]; then
  wrk -t"$THREADS" -c"$HIGH" -d"${JIT_WARMUP}s" -s "$TMP/portkey.lua" "$PK_URL" >"$TMP/jit-portkey.txt" 2>&1 || true
  PK_COLD_RPS="$(awk '/^Requests\/sec:/{printf "%.0f", $2}' "$TMP/jit-portkey.txt")"
fi
measure() { # target connections seconds
  case "$1" in
    direct) run_wrk direct "$DIRECT_URL" "$TMP/direct.lua" "$2" "$3" ;;
    modelmix) run_wrk modelmix "$MMX_URL" "$TMP/modelmix.lua" "$2" "$3" ;;
    portkey) run_wrk portkey "$PK_URL" "$TMP/portkey.lua" "$2" "$3" ;;
  esac
}
# Direct and ModelMix alternate in rounds at each connection count (see the top of this file); Portkey, far slower,
# runs once at each.
for conns in "$HIGH" "$LOW"; do
  for ((round = 1; round <= ROUNDS; round++)); do
    for t in "${TARGETS[@]}"; do [[ "$t" == portkey ]] || measure "$t" "$conns" "$ROUND_DURATION"; done
  done
  if [[ $PORTKEY_OK -eq 1 ]]; then measure portkey "$conns" "$DURATION"; fi
done
for conns in "$HIGH" "$LOW"; do
  for t in "${TARGETS[@]}"; do summarize_runs "$t" "$conns"; done
  CPU_US[modelmix,$conns]="$(awk -v t="${TICKS[$conns]:-0}" -v hz="$(getconf CLK_TCK)" -v n="${REQS[$conns]:-0}" 'BEGIN{ if (n > 0) printf "%.0f", t * 1e6 / hz / n; else print "n/a" }')"
  ALLOC_KB[modelmix,$conns]="$(awk -v a="${ALLOC_B[$conns]:-0}" -v n="${REQS[$conns]:-0}" 'BEGIN{ if (n > 0 && a > 0) printf "%.1f", a / 1024 / n; else print "n/a" }')"
done

# ---------------------------------------------------------------------------------------------------------------
# Streaming: time to the first complete SSE event, direct vs through ModelMix (upstream pauses after it)
# ---------------------------------------------------------------------------------------------------------------
cat > "$TMP/first-event.mjs" <<'EOF'
// Sends N sequential streaming requests; prints the median and max time to the first complete SSE event and to the end.
import http from 'node:http';
const [url, model, runs] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const body = JSON.stringify({ model, max_tokens: 256, stream: true, messages: [{ role: 'user', content: 'Say hi.' }] });
const one = () => new Promise((resolve, reject) => {
  const t0 = process.hrtime.bigint();
  let first = null, text = '', events = 0;
  const req = http.request(url, { method: 'POST', agent, timeout: 10000, headers: {
    'content-type': 'application/json', accept: 'text/event-stream', 'anthropic-version': '2023-06-01', 'x-api-key': 'bench-key' } }, res => {
    res.setEncoding('utf8');
    res.on('data', chunk => {
      text += chunk;
      if (first === null && text.includes('\n\n')) first = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    res.on('end', () => {
      events = (text.match(/^event: /gm) || []).length;
      if (res.statusCode !== 200 || first === null) reject(new Error(`status ${res.statusCode}, body ${text.slice(0, 200)}`));
      else resolve({ first, total: Number(process.hrtime.bigint() - t0) / 1e6, events });
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', reject);
  req.end(body);
});
const results = [];
for (let i = 0; i < runs; i++) results.push(await one());
const med = xs => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const max = xs => Math.max(...xs);
const f = results.map(r => r.first), t = results.map(r => r.total);
console.log([med(f), max(f), med(t), max(t)].map(x => x.toFixed(2)).concat([results[0].events]).join(' '));
agent.destroy();
EOF
log "streaming: $STREAM_RUNS requests each, upstream pauses ${STREAM_DELAY}s after the first event"
if [[ $ONLY_MMX -eq 0 ]]; then
  line="$(node "$TMP/first-event.mjs" "$DIRECT_URL" claude-haiku-4-5 "$STREAM_RUNS")" || die "streaming direct failed"
  read -r SD_FIRST SD_FIRSTMAX SD_TOTAL _ SD_EVENTS <<<"$line"
else
  SD_FIRST=n/a; SD_FIRSTMAX=n/a; SD_TOTAL=n/a; SD_EVENTS=n/a
fi
line="$(node "$TMP/first-event.mjs" "$MMX_URL" auto "$STREAM_RUNS")" || die "streaming through ModelMix failed"
read -r SM_FIRST SM_FIRSTMAX SM_TOTAL _ SM_EVENTS <<<"$line"
MMX_STREAMED=$STREAM_RUNS

# ---------------------------------------------------------------------------------------------------------------
# Ledger: stop ModelMix (its shutdown flushes the buffered ledger), then count rows
# ---------------------------------------------------------------------------------------------------------------
kill -TERM "$MMX_PID" 2>/dev/null || true
for _ in $(seq 300); do kill -0 "$MMX_PID" 2>/dev/null || break; sleep 0.1; done
LEDGER_TABLE=ledger_records
[[ -n "$LEDGER_TABLE" ]] || die "no ledger table in $MMX_DB: $(sqlite3 "$MMX_DB" .tables)"
LEDGER_ROWS="$(sqlite3 "$MMX_DB" "SELECT count(*) FROM \"$LEDGER_TABLE\";")"
LEDGER_STREAM_ROWS="$(sqlite3 "$MMX_DB" "SELECT count(*) FROM \"$LEDGER_TABLE\" WHERE streaming = 1;")"
LEDGER_BY_STATUS="$(sqlite3 "$MMX_DB" "SELECT status || ': ' || count(*) FROM \"$LEDGER_TABLE\" GROUP BY status;" | paste -sd, - | sed 's/,/, /g')"
EXPECTED=$(( MMX_ANSWERED + MMX_SANITY + MMX_STREAMED ))

# ---------------------------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------------------------
fmt_us() { awk -v u="$1" 'BEGIN{ if (u == "") { print "n/a"; exit } s = u < 0 ? "−" : ""; a = u < 0 ? -u : u; if (a < 1000) printf "%s%d µs", s, a; else printf "%s%.2f ms", s, a/1000 }'; }
cpu="$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
{
  echo "### Run of $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Machine: $(nproc) cores ($cpu), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); .NET $(dotnet --version), node $(node --version), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | awk '{print $1" "$2}'), Portkey gateway $PORTKEY_VERSION."
  echo "Load average (1, 5, 15 min) before the runs: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (above ~2.5 other work shared the cores, and the figures are noisy)."
  echo "wrk: $THREADS threads; at $HIGH and at $LOW connections $ROUNDS alternating rounds of ${ROUND_DURATION} s for direct and ModelMix (the table gives their medians) and one ${DURATION} s run for Portkey; a ${WARMUP} s warm-up before every run; nginx 1 worker; everything on the same $(nproc) cores. Each proxy first had ${JIT_WARMUP} s of load at $HIGH connections (not in the table): ModelMix averaged ${MMX_COLD_RPS} req/s over it${PK_COLD_RPS:+, Portkey ${PK_COLD_RPS} req/s}."
  echo
  echo "| target | connections | req/s | p50 | p99 | errors |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for conns in "$HIGH" "$LOW"; do
    for t in "${TARGETS[@]}"; do
      printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$conns" "${RPS[$t,$conns]}" "$(fmt_us "${P50[$t,$conns]}")" "$(fmt_us "${P99[$t,$conns]}")" "${ERRS[$t,$conns]}"
    done
  done
  [[ $PORTKEY_OK -eq 1 ]] || echo "| portkey | — | not measured: $PORTKEY_WHY | | | |"
  echo
  for conns in "$HIGH" "$LOW"; do
    echo "$conns connections, round by round (req/s, p50, p99):"
    for t in "${TARGETS[@]}"; do
      [[ "$t" == portkey ]] && continue
      printf -- '- %s: %s\n' "$t" "$(tr ';' '\n' <<<"${RUNS[$t,$conns]}" | while read -r a b c; do printf '%s, %s, %s; ' "$a" "$(fmt_us "$b")" "$(fmt_us "$c")"; done | sed 's/; $//')"
    done
    echo
  done
  echo "ModelMix's own cost per request (process CPU time over the run, and the runtime's bytes allocated): $HIGH connections ${CPU_US[modelmix,$HIGH]} µs CPU and ${ALLOC_KB[modelmix,$HIGH]} KB; $LOW connections ${CPU_US[modelmix,$LOW]} µs CPU and ${ALLOC_KB[modelmix,$LOW]} KB."
  echo
  echo "Streaming (${STREAM_RUNS} sequential requests, upstream pauses ${STREAM_DELAY} s after the first event): time to first event, median (max) — direct ${SD_FIRST} ms (${SD_FIRSTMAX}), ModelMix ${SM_FIRST} ms (${SM_FIRSTMAX}); whole stream median: direct ${SD_TOTAL} ms, ModelMix ${SM_TOTAL} ms; events received: direct ${SD_EVENTS}, ModelMix ${SM_EVENTS}."
  echo
  echo "Ledger: $LEDGER_ROWS rows ($LEDGER_BY_STATUS; $LEDGER_STREAM_ROWS streamed) for $EXPECTED requests ModelMix answered (wrk counted $MMX_ANSWERED incl. warm-ups, + $MMX_SANITY check + $MMX_STREAMED streamed)."
  echo
  if [[ $ONLY_MMX -eq 0 ]]; then
  echo "| goal | measured | met? |"
  echo "| --- | --- | --- |"
  verdict() { if [[ "$1" == 1 ]]; then echo yes; else echo "**no**"; fi; }
  m64="${RPS[modelmix,$HIGH]}"; d64="${RPS[direct,$HIGH]}"
  if [[ $PORTKEY_OK -eq 1 ]]; then
    p64="${RPS[portkey,$HIGH]}"
    ok=$(awk -v m="$m64" -v p="$p64" 'BEGIN{print (m >= 10*p) ? 1 : 0}')
    echo "| $HIGH conns: ModelMix ≥ 10 × Portkey req/s | $m64 vs 10 × $p64 = $((10 * p64)) ($(awk -v m="$m64" -v p="$p64" 'BEGIN{printf "%.1f", m/p}') ×) | $(verdict "$ok") |"
  else
    echo "| $HIGH conns: ModelMix ≥ 10 × Portkey req/s | Portkey not measured | n/a |"
  fi
  ok=$(awk -v m="$m64" -v d="$d64" 'BEGIN{print (m >= 0.25*d) ? 1 : 0}')
  echo "| $HIGH conns: ModelMix ≥ 25 % of direct req/s | $m64 vs $d64 ($(awk -v m="$m64" -v d="$d64" 'BEGIN{printf "%.1f", 100*m/d}') %) | $(verdict "$ok") |"
  dp50="${P50[direct,$LOW]}"; mp50="${P50[modelmix,$LOW]}"; dp99="${P99[direct,$LOW]}"; mp99="${P99[modelmix,$LOW]}"
  ok=$(( mp50 <= dp50 + 250 ? 1 : 0 ))
  echo "| $LOW conns: p50 ≤ direct + 250 µs | $(fmt_us "$mp50") vs $(fmt_us "$dp50") + 250 µs (adds $(fmt_us $((mp50 - dp50)))) | $(verdict "$ok") |"
  ok=$(( mp99 <= dp99 + 1000 ? 1 : 0 ))
  echo "| $LOW conns: p99 ≤ direct + 1 ms | $(fmt_us "$mp99") vs $(fmt_us "$dp99") + 1 ms (adds $(fmt_us $((mp99 - dp99)))) | $(verdict "$ok") |"
  ok=$(awk -v m="$SM_FIRST" -v d="$SD_FIRST" -v w="$STREAM_DELAY" 'BEGIN{print (m < 1000*w/2 && m - d < 50) ? 1 : 0}')
  echo "| streaming: no buffering delay before the first event | first event at ${SM_FIRST} ms vs ${SD_FIRST} ms direct (a buffering proxy: ≥ $(awk -v w="$STREAM_DELAY" 'BEGIN{print 1000*w}') ms) | $(verdict "$ok") |"
  # wrk stops with requests in flight; ModelMix still answers and records those, so up to one per connection per run more.
  ok=$(( LEDGER_ROWS >= EXPECTED && LEDGER_ROWS <= EXPECTED + MMX_INFLIGHT_MAX ? 1 : 0 ))
  echo "| ledger: one row per answered request | $LEDGER_ROWS rows for $EXPECTED answered (+ up to $MMX_INFLIGHT_MAX cut off in flight when wrk stopped) | $(verdict "$ok") |"
  fi
} > "$TMP/summary.md"

cat "$TMP/summary.md"
if [[ -n "$OUT" ]]; then cp "$TMP/summary.md" "$OUT"; log "summary written to $OUT"; fi
if grep -q 'error\|fail' "$TMP/modelmix.log"; then log "ModelMix log (tail):"; tail -5 "$TMP/modelmix.log" >&2; fi
