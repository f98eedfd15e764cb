#!/usr/bin/env bash
# Paired A/B of two ModelMix proxies: the same nginx upstream and wrk as bench/proxy-load.sh, but both proxies run at
# once and their measurements are interleaved (A, B, A, B, …), so a slow phase of the shared machine hits both sides
# alike. Reports, per side, the median (and every value) of wrk's p50 at 4 connections, the median p99, req/s, and the proxy's CPU
# time per request; then req/s and CPU per request at 64 connections. Use it to judge a change worth a few tens of
# microseconds, which single runs of proxy-load.sh cannot separate from the machine's drift.
#
#   bench/proxy-ab.sh --b-env "ModelMix__InlineScheduling=true"     # the same build, B with an extra setting
#   bench/proxy-ab.sh --b-root ../other-checkout                     # this checkout (A) against another build (B)
#   bench/proxy-ab.sh --a-env "K=V" --b-env "K=W" --rounds 8 --duration 5
#   bench/proxy-ab.sh --b-root ../base --key none                     # both sides through a virtual key without a budget
#   bench/proxy-ab.sh --b-root ../base --key 1000000/day              # … through a key with a daily budget (never reached)
#
# Everything runs on 127.0.0.1, stops by itself and is removed at the end. Needs wrk, nginx (+ echo module), curl and
# node, like proxy-load.sh (run that once to install them).
set -euo pipefail

ROUNDS=6
DURATION=5
A_ENV=""
B_ENV=""
B_ROOT=""
KEY=""              # empty: open mode; "none": a virtual key without a budget; else the key's budget (e.g. 1000000/day)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --a-env) A_ENV="$2"; shift 2 ;;
    --b-env) B_ENV="$2"; shift 2 ;;
    --b-root) B_ROOT="$2"; shift 2 ;;
    --key) KEY="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 50 ]] || { echo "--rounds must be 1..50" >&2; exit 2; }
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 60 ]] || { echo "--duration must be 1..60 seconds" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
B_ROOT="$(cd "${B_ROOT:-$ROOT}" && pwd)"
FIXTURES="${MODELMIX_FIXTURES:-$ROOT/../shared/fixtures/anthropic}"
RESPONSE_JSON="$FIXTURES/messages/response-text.json"
STREAM_SSE="$FIXTURES/streaming/text.sse"
STREAM_DELAY=0.3

log() { printf '[proxy-ab] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in wrk nginx curl node dotnet; do command -v "$tool" >/dev/null || die "$tool not found (bench/proxy-load.sh installs what is missing)"; done
[[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]] || die "nginx's echo module is missing (bench/proxy-load.sh installs it)"

for root in "$ROOT" "$B_ROOT"; do
  log "dotnet build -c Release $root/src/ModelMix.Cli"
  (cd "$root" && dotnet build -c Release src/ModelMix.Cli -nologo -v q >/dev/null) || die "dotnet build failed in $root"
done

# shellcheck source=bench/lib/upstream.sh
source "$ROOT/bench/lib/upstream.sh"
start_workspace proxy-ab
start_nginx_upstream

declare -A PORT PID
start_proxy() { # side root "K=V …"
  local side="$1" root="$2" extra="$3" key="bench-key" budget=()
  if [[ -n "$KEY" ]]; then
    [[ "$KEY" == none ]] || budget=(--budget "$KEY")
    key="$(dotnet "$root/src/ModelMix.Cli/bin/Release/net10.0/ModelMix.Cli.dll" keys create --name "bench-$side" "${budget[@]}" --db "$TMP/ledger-$side.db" | tail -n 1)"
  fi
  write_lua "$TMP/modelmix-$side.lua" "auto" "wrk.headers[\"x-api-key\"] = \"$key\""
  PORT[$side]="$(free_port)"
  # shellcheck disable=SC2086 # the extra settings are words on purpose
  env $extra ANTHROPIC_API_KEY=bench-key Logging__LogLevel__Default=Warning \
    dotnet "$root/src/ModelMix.Cli/bin/Release/net10.0/ModelMix.Cli.dll" serve --urls "http://127.0.0.1:${PORT[$side]}" \
    --upstream "http://127.0.0.1:$NGINX_PORT/" --db "$TMP/ledger-$side.db" >"$TMP/modelmix-$side.log" 2>&1 &
  PID[$side]=$!
  PIDS+=("${PID[$side]}")
  wait_http "http://127.0.0.1:${PORT[$side]}/healthz" "ModelMix $side"
  log "ModelMix $side on 127.0.0.1:${PORT[$side]} ($root${extra:+, $extra})"
}
start_proxy A "$ROOT" "$A_ENV"
start_proxy B "$B_ROOT" "$B_ENV"


HZ="$(getconf CLK_TCK)"
measure() { # side connections -> "req/s p50-µs cpu-µs-per-request p99-µs" appended to $TMP/<side>-<connections>.txt
  local side="$1" conns="$2" t0 t1 out n
  t0="$(awk '{print $14 + $15}' "/proc/${PID[$side]}/stat")"
  out="$(wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s "$TMP/modelmix-$side.lua" "http://127.0.0.1:${PORT[$side]}/v1/messages")"
  t1="$(awk '{print $14 + $15}' "/proc/${PID[$side]}/stat")"
  n="$(awk '/requests in/{print $1}' <<<"$out")"
  awk -v out="$out" -v t="$((t1 - t0))" -v hz="$HZ" -v n="${n:-0}" 'BEGIN {
    split(out, lines, "\n"); rps = "n/a"; p50 = "n/a"; p99 = "n/a"
    for (i in lines) {
      split(lines[i], f, " ")
      if (lines[i] ~ /^Requests\/sec:/) rps = sprintf("%.0f", f[2])
      if (lines[i] ~ /^ +50%/) p50 = micros(f[2])
      if (lines[i] ~ /^ +99%/) p99 = micros(f[2])
    }
    printf "%s %s %s %s\n", rps, p50, (n > 0) ? sprintf("%.0f", t * 1e6 / hz / n) : "n/a", p99
  }
  function micros(v) { return (v ~ /ms$/) ? v * 1000 : (v ~ /us$/) ? v + 0 : v * 1000000 }' >>"$TMP/$side-$conns.txt"
}

log "JIT warm-up: 15 s at 64 connections on each"
for side in A B; do wrk -t2 -c64 -d15s -s "$TMP/modelmix-$side.lua" "http://127.0.0.1:${PORT[$side]}/v1/messages" >/dev/null; done
log "$ROUNDS interleaved rounds at 4 connections, 3 at 64 (${DURATION} s each)"
for _ in $(seq "$ROUNDS"); do measure A 4; measure B 4; done
for _ in 1 2 3; do measure A 64; measure B 64; done

column() { cut -d' ' -f"$2" "$TMP/$1.txt"; }
echo "### Paired A/B, $(date -u '+%Y-%m-%d %H:%M UTC') (load average before the end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "A: $ROOT${A_ENV:+ with $A_ENV}; B: $B_ROOT${B_ENV:+ with $B_ENV}; ${KEY:+virtual key (budget: $KEY), }$ROUNDS rounds at 4 connections and 3 at 64, ${DURATION} s each, interleaved."
echo
echo "| side | 4 conns p50, median (all runs) | 4 conns p99, median | 4 conns req/s | 4 conns CPU / request | 64 conns req/s | 64 conns CPU / request |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for side in A B; do
  printf '| %s | %s µs (%s) | %s µs | %s | %s µs | %s | %s µs |\n' "$side" \
    "$(column "$side-4" 2 | median)" "$(column "$side-4" 2 | paste -sd' ' -)" "$(column "$side-4" 4 | median)" "$(column "$side-4" 1 | median)" \
    "$(column "$side-4" 3 | median)" "$(column "$side-64" 1 | median)" "$(column "$side-64" 3 | median)"
done
