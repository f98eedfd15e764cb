#!/usr/bin/env bash
# What virtual keys and budgets cost in throughput: the same nginx upstream, request and wrk as bench/proxy-load.sh,
# through ModelMix proxies started at once, each on its own SQLite store —
#   open    no keys (open on loopback),
#   key     one virtual key without a budget (every request authenticated),
#   budget  one virtual key with a daily budget (authenticated, reserved and settled) —
#   lease   the same budgeted key with budget leases on (ModelMix:Budgets:LeaseSizeUsd=$LEASE_SIZE, default 1; issue 29),
# measured in interleaved rounds at 64 connections (open, key, budget, open, key, budget, …), so a slow phase of the
# shared machine hits every mode alike. Reports, per mode, the median req/s (and every round's), the median CPU time
# per request, and req/s as a share of open mode's in the same run.
#
#   bench/keys-throughput.sh                           # this checkout's build
#   bench/keys-throughput.sh --b-dll /tmp/old/ModelMix.Cli.dll  # also another build (B), interleaved with this one (A)
#   bench/keys-throughput.sh --a-dll /tmp/old/ModelMix.Cli.dll  # a saved build as A (nothing is built)
#   bench/keys-throughput.sh --rounds 6 --duration 8 --connections 64
#   bench/keys-throughput.sh --postgres-replicas 3     # also pgkey and pgbudget: one hot key through 3 replicas sharing a
#                                                      # throwaway PostgreSQL (fsync off), the connections split among them
#   bench/keys-throughput.sh --postgres-replicas 3 --modes "open key pgkey"   # only these modes
#   bench/keys-throughput.sh --postgres-replicas 3 --modes "open budget lease pgbudget pglease"   # leases vs none (pglease:
#                                                      # the hot budgeted key through the replicas with leases on)
#
# KEYS_THROUGHPUT_LOGS=DIR keeps the proxies' (and PostgreSQL's) logs there.
# Everything runs on 127.0.0.1, stops by itself and is removed at the end. Needs wrk, nginx (+ echo module), curl and
# node, like proxy-load.sh (run that once to install them).
set -euo pipefail

ROUNDS=5
DURATION=5
CONNS=64
B_DLL=""
A_DLL=""
PG_REPLICAS=0
ONLY_MODES=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --b-dll) B_DLL="$2"; shift 2 ;;
    --a-dll) A_DLL="$2"; shift 2 ;;
    --postgres-replicas) PG_REPLICAS="$2"; shift 2 ;;
    --modes) ONLY_MODES="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 && "$ROUNDS" -le 50 ]] || { echo "--rounds must be 1..50" >&2; exit 2; }
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 && "$DURATION" -le 60 ]] || { echo "--duration must be 1..60 seconds" >&2; exit 2; }
[[ "$CONNS" =~ ^[0-9]+$ && "$CONNS" -ge 1 && "$CONNS" -le 1024 ]] || { echo "--connections must be 1..1024" >&2; exit 2; }
[[ "$PG_REPLICAS" =~ ^[0-9]+$ && "$PG_REPLICAS" -le 8 ]] || { echo "--postgres-replicas must be 0..8" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIXTURES="${MODELMIX_FIXTURES:-$ROOT/../shared/fixtures/anthropic}"
RESPONSE_JSON="$FIXTURES/messages/response-text.json"
STREAM_SSE="$FIXTURES/streaming/text.sse"
STREAM_DELAY=0.3
BUILD_A=0
if [[ -z "$A_DLL" ]]; then A_DLL="$ROOT/src/ModelMix.Cli/bin/Release/net10.0/ModelMix.Cli.dll"; BUILD_A=1; fi

log() { printf '[keys-throughput] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
for tool in wrk nginx curl node dotnet; do command -v "$tool" >/dev/null || die "$tool not found (bench/proxy-load.sh installs what is missing)"; done
[[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ]] || die "nginx's echo module is missing (bench/proxy-load.sh installs it)"
[[ -z "$B_DLL" || -f "$B_DLL" ]] || die "--b-dll $B_DLL not found"

if [[ $BUILD_A -eq 1 ]]; then
  log "dotnet build -c Release $ROOT/src/ModelMix.Cli"
  (cd "$ROOT" && dotnet build -c Release src/ModelMix.Cli -nologo -v q >/dev/null) || die "dotnet build failed"
fi
[[ -f "$A_DLL" ]] || die "$A_DLL not found"

# shellcheck source=bench/lib/upstream.sh
source "$ROOT/bench/lib/upstream.sh"
start_workspace keys-throughput
start_nginx_upstream

BUILDS=(A)
declare -A DLL=([A]="$A_DLL")
if [[ -n "$B_DLL" ]]; then BUILDS+=(B); DLL[B]="$B_DLL"; fi
MODES=(open key budget lease)
if [[ $PG_REPLICAS -gt 0 ]]; then MODES+=(pgkey pgbudget pglease); fi
LEASE_SIZE="${LEASE_SIZE:-1}"
if [[ -n "$ONLY_MODES" ]]; then
  read -r -a MODES <<<"$ONLY_MODES"
  for mode in "${MODES[@]}"; do
    case "$mode" in open|key|budget|lease) ;; pgkey|pgbudget|pglease) [[ $PG_REPLICAS -gt 0 ]] || die "--modes $mode needs --postgres-replicas N" ;; *) die "unknown mode $mode" ;; esac
  done
  [[ " ${MODES[*]} " == *" open "* ]] || die "--modes must include open (the other modes are reported as a share of it)"
fi

# A throwaway PostgreSQL cluster for the pg modes (initdb refuses root: then it runs as the postgres user).
if [[ $PG_REPLICAS -gt 0 ]]; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -x "$PG_BIN/initdb" ]] || die "no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)"
  as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  mkdir -p "$TMP/pg"
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$TMP/pg"; fi
  as_pg "$PG_BIN/initdb" -D "$TMP/pg/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  PG_PORT="$(free_port)"
  as_pg "$PG_BIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/server.log" -w -t 120 \
    -o "-p $PG_PORT -k $TMP/pg -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  PIDS+=("$(head -1 "$TMP/pg/data/postmaster.pid")")
  log "PostgreSQL on 127.0.0.1:$PG_PORT ($PG_BIN, fsync off)"
fi

declare -A PORTS PIDSOF
create_key() { # build store budget-or-empty -> the key
  dotnet "${DLL[$1]}" keys create --name bench ${3:+--budget "$3"} --db "$2" --format json \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))'
}
start_proxy() { # build mode
  local build="$1" mode="$2" side="$1-$2" store key="" replicas=1 port
  case "$mode" in
    open|key|budget|lease) store="$TMP/ledger-$side.db" ;;
    pg*) store="postgres://postgres@127.0.0.1:$PG_PORT/mmx_${build,,}_$mode"; replicas=$PG_REPLICAS
         as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "mmx_${build,,}_$mode" ;;
  esac
  case "$mode" in
    key|pgkey) key="$(create_key "$build" "$store" "")" ;;
    budget|pgbudget|lease|pglease) key="$(create_key "$build" "$store" 1000000/day)" ;;
  esac
  local lease_size=""
  case "$mode" in lease|pglease) lease_size="$LEASE_SIZE" ;; esac
  PORTS[$side]=""; PIDSOF[$side]=""
  for replica in $(seq "$replicas"); do
    port="$(free_port)"
    ANTHROPIC_API_KEY=bench-key Logging__LogLevel__Default=Warning ModelMix__Store="$store" \
      env ${lease_size:+ModelMix__Budgets__LeaseSizeUsd=$lease_size} dotnet "${DLL[$build]}" serve --urls "http://127.0.0.1:$port" \
      --upstream "http://127.0.0.1:$NGINX_PORT/" >"$TMP/modelmix-$side-$replica.log" 2>&1 &
    PIDS+=("$!")
    PORTS[$side]+="$port "; PIDSOF[$side]+="$! "
    wait_http "http://127.0.0.1:$port/healthz" "ModelMix $side #$replica"
    local probe
    probe="$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
      -H "x-api-key: ${key:-bench-key}" --data '{"model":"auto","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}' \
      "http://127.0.0.1:$port/v1/messages")"
    [[ "$probe" == 200 ]] || die "ModelMix $side #$replica answered $probe to a probe request (see $TMP/modelmix-$side-$replica.log)"
  done
  # The key goes only into this run's temp wrk script (removed at the end), never into the output.
  write_lua "$TMP/$side.lua" "auto" "${key:+wrk.headers[\"x-api-key\"] = \"$key\"}"
  log "ModelMix $side on 127.0.0.1 port(s) ${PORTS[$side]}(${DLL[$build]})"
}
for build in "${BUILDS[@]}"; do for mode in "${MODES[@]}"; do start_proxy "$build" "$mode"; done; done

HZ="$(getconf CLK_TCK)"
measure() { # side -> "req/s cpu-µs-per-request non-2xx" appended to $TMP/<side>.txt (summed over the side's replicas)
  local side="$1" t0=0 t1=0 pid port i=0 conns
  local -a ports pids loaders=()
  read -r -a ports <<<"${PORTS[$side]}"
  read -r -a pids <<<"${PIDSOF[$side]}"
  conns=$(( CONNS / ${#ports[@]} > 0 ? CONNS / ${#ports[@]} : 1 ))
  for pid in "${pids[@]}"; do t0=$(( t0 + $(awk '{print $14 + $15}' "/proc/$pid/stat") )); done
  for port in "${ports[@]}"; do
    wrk -t2 -c"$conns" -d"${DURATION}s" --timeout 10s -s "$TMP/$side.lua" "http://127.0.0.1:$port/v1/messages" >"$TMP/wrk-$i.txt" &
    loaders+=("$!")
    i=$((i + 1))
  done
  wait "${loaders[@]}"
  for pid in "${pids[@]}"; do t1=$(( t1 + $(awk '{print $14 + $15}' "/proc/$pid/stat") )); done
  cat "$TMP"/wrk-*.txt | awk -v t="$((t1 - t0))" -v hz="$HZ" '
    /requests in/ { n += $1 }
    /^Requests\/sec:/ { rps += $2 }
    /Non-2xx or 3xx responses:/ { bad += $5 }
    END { printf "%.0f %s %d\n", rps, (n > 0) ? sprintf("%.0f", t * 1e6 / hz / n) : "n/a", bad }' >>"$TMP/$side.txt"
  rm -f "$TMP"/wrk-*.txt
}

SIDES=()
for build in "${BUILDS[@]}"; do for mode in "${MODES[@]}"; do SIDES+=("$build-$mode"); done; done
log "JIT warm-up: 10 s at $CONNS connections on each of ${#SIDES[@]} proxies"
for side in "${SIDES[@]}"; do
  for port in ${PORTS[$side]}; do wrk -t2 -c"$CONNS" -d10s --timeout 10s -s "$TMP/$side.lua" "http://127.0.0.1:$port/v1/messages" >/dev/null; done
done
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
log "$ROUNDS interleaved rounds at $CONNS connections (${DURATION} s each): ${SIDES[*]}"
for round in $(seq "$ROUNDS"); do
  for side in "${SIDES[@]}"; do measure "$side"; done
  log "round $round done"
done

if [[ -n "${KEYS_THROUGHPUT_LOGS:-}" ]]; then mkdir -p "$KEYS_THROUGHPUT_LOGS" && cp "$TMP"/modelmix-*.log "$KEYS_THROUGHPUT_LOGS"/ && cp "$TMP/pg/server.log" "$KEYS_THROUGHPUT_LOGS"/ 2>/dev/null || true; fi
column() { cut -d' ' -f"$2" "$TMP/$1.txt"; }
echo "### Keys and budgets, paired, $(date -u '+%Y-%m-%d %H:%M UTC') (load average $LOAD_BEFORE before the rounds, $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
echo
PG_NOTE=""
if [[ $PG_REPLICAS -gt 0 ]]; then PG_NOTE="; pgkey, pgbudget and pglease: one key through $PG_REPLICAS replicas on one PostgreSQL (fsync off), the connections split among them"; fi
echo "$ROUNDS interleaved rounds of ${DURATION} s at $CONNS connections, \`model: \"auto\"\`; open, key, budget and lease (budget leases of \$$LEASE_SIZE) each on its own SQLite file$PG_NOTE. A: $A_DLL${B_DLL:+; B: $B_DLL}."
echo
echo "| build | mode | req/s, median (all rounds) | share of open | CPU / request | non-2xx |"
echo "| --- | --- | --- | ---: | ---: | ---: |"
for build in "${BUILDS[@]}"; do
  open="$(column "$build-open" 1 | median)"
  for mode in "${MODES[@]}"; do
    side="$build-$mode"
    rps="$(column "$side" 1 | median)"
    printf '| %s | %s | %s (%s) | %s %% | %s µs | %s |\n' "$build" "$mode" "$rps" "$(column "$side" 1 | paste -sd' ' -)" \
      "$(awk -v a="$rps" -v b="$open" 'BEGIN { printf "%.0f", (b > 0) ? 100 * a / b : 0 }')" \
      "$(column "$side" 2 | median)" "$(column "$side" 3 | paste -sd+ - | bc)"
  done
done
