#!/usr/bin/env bash
# Soak test of `modelmix serve`: a bounded, fixed-rate load on loopback with a mix of streaming, non-streaming and
# auto-cascade requests, against FakeAnthropic scripted so a share of upstream answers are faults (429, 529, 500,
# dropped connections, cut streams and bodies, malformed JSON, error events mid-stream). Reports throughput,
# p50/p99 latency (the fake answers at once, so this is the proxy's added latency plus loopback), errors by type,
# the proxy's RSS over time, and checks the ledger against the generator's own count: every answered request has
# its records (nothing lost) and no request has two successful plain attempts (nothing doubled). A share of clients
# hang up part-way (--hangup-share, default 5%): every call FakeAnthropic served must still have its ledger record.
# Every --batch-every seconds (default 5; 0: none) a batch job of 5 requests is queued, and a share of the Message
# Batches upstream's answers lie (--batch-lie-share, default 0.2: 500s, garbage, missing fields, repeated ids,
# results with garbage, strangers' and repeated lines): every job must end, every one of its requests must have
# exactly one ledger record (nothing lost, nothing doubled), and the proxy must keep serving throughout.
#
#   bench/soak.sh                      # 10 minutes at 40 requests/s, 10% faults
#   bench/soak.sh --duration 120       # seconds
#   bench/soak.sh --rate 20 --fault-share 0.2 --hangup-share 0.1 --batch-every 2 --batch-lie-share 0.3 --out FILE
#
# Needs: dotnet (builds the CLI and FakeAnthropic in Release), node (>= 18, for fetch), python3 (reads the ledger).
# Everything listens on 127.0.0.1 and stops by itself; temp files are removed at the end.
set -euo pipefail

DURATION=600
RATE=40
FAULTS=0.1
STREAM_SHARE=0.4
CASCADE_SHARE=0.1
HANGUPS=0.05
BATCH_EVERY=5
BATCH_LIES=0.2
OUT=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --fault-share) FAULTS="$2"; shift 2 ;;
    --hangup-share) HANGUPS="$2"; shift 2 ;;
    --batch-every) BATCH_EVERY="$2"; shift 2 ;;
    --batch-lie-share) BATCH_LIES="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 10 && "$DURATION" -le 7200 ]] || { echo "--duration must be 10..7200 seconds" >&2; exit 2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLI_DLL="$ROOT/src/ModelMix.Cli/bin/Release/net10.0/ModelMix.Cli.dll"
FAKE_DLL="$ROOT/tests/FakeAnthropic/bin/Release/net10.0/FakeAnthropic.dll"
WORK="$(mktemp -d)"
PIDS=()
log() { printf '[soak] %s\n' "$*" >&2; }
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 300); do python3 -c "import urllib.request,sys; urllib.request.urlopen('$1', timeout=1)" 2>/dev/null && return 0; sleep 0.2; done; log "no answer from $1"; exit 1; }

log "building (Release)"
dotnet build "$ROOT/src/ModelMix.Cli" -c Release -v q -nologo >/dev/null
dotnet build "$ROOT/tests/FakeAnthropic" -c Release -v q -nologo >/dev/null

FAKE_PORT=$(free_port)
PROXY_PORT=$(free_port)
dotnet "$FAKE_DLL" --urls "http://127.0.0.1:$FAKE_PORT" --fault-share "$FAULTS" --batch-lie-share "$BATCH_LIES" >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
cd "$WORK"
# Batches polled and retried fast (the fake ends a batch at its second poll); a batch not collected in 20 s is given up.
ANTHROPIC_API_KEY=sk-soak-upstream ModelMix__RetryBaseDelay=00:00:00.05 ModelMix__MaxRetryDelay=00:00:02 ModelMix__UpstreamTimeout=00:00:30 \
  ModelMix__Batch__PollInterval=00:00:00.500 ModelMix__Batch__MaxPollInterval=00:00:01 ModelMix__Batch__IdleInterval=00:00:00.200 \
  ModelMix__Batch__RetryDelay=00:00:00.200 ModelMix__Batch__MaxRetryDelay=00:00:01 ModelMix__Batch__GiveUpAfter=00:00:20 \
  dotnet "$CLI_DLL" serve --urls "http://127.0.0.1:$PROXY_PORT" --upstream "http://127.0.0.1:$FAKE_PORT/" --db "$WORK/soak.db" >"$WORK/proxy.log" 2>&1 &
PROXY_PID=$!
PIDS+=($PROXY_PID)
wait_http "http://127.0.0.1:$PROXY_PORT/healthz"

log "load: ${DURATION}s at ${RATE}/s, ${FAULTS} faults, ${STREAM_SHARE} streaming, ${CASCADE_SHARE} auto-cascade, a batch job every ${BATCH_EVERY}s with ${BATCH_LIES} batch lies"
( while kill -0 "$PROXY_PID" 2>/dev/null; do
    echo "$(date +%s) $(awk '/VmRSS/ {print $2}' /proc/$PROXY_PID/status)"; sleep 10
  done ) >"$WORK/rss.txt" &
PIDS+=($!)
node "$ROOT/bench/soak/loadgen.mjs" "http://127.0.0.1:$PROXY_PORT/" "$RATE" "$DURATION" "$STREAM_SHARE" "$CASCADE_SHARE" "$HANGUPS" "$BATCH_EVERY" >"$WORK/load.json"
sleep 2 # calls of clients that hung up finish in the background (ClientHangups)
python3 -c "import urllib.request as u; print(u.urlopen(u.Request('http://127.0.0.1:$FAKE_PORT/_fake/served', headers={'x-api-key': 'sk-soak-upstream', 'anthropic-version': '2023-06-01'}), timeout=5).read().decode())" >"$WORK/served.json"

# A graceful stop commits everything buffered; then the ledger is read.
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true

python3 - "$WORK" "$OUT" <<'PY'
import json, sqlite3, sys
work, out = sys.argv[1], sys.argv[2]
load = json.load(open(f"{work}/load.json"))
served = json.load(open(f"{work}/served.json"))
db = sqlite3.connect(f"{work}/soak.db")
requests = db.execute("SELECT COUNT(DISTINCT request_id) FROM ledger_records").fetchone()[0]
# Upstream calls the ledger knows: every record but refusals and loop-guard stops, which never reach the upstream, and
# batch results (their request id is the job's), which are not /v1/messages calls.
upstream = db.execute("SELECT COUNT(*) FROM ledger_records WHERE COALESCE(error_type, '') NOT LIKE 'refused:%' AND COALESCE(error_type, '') <> 'loop_guard' AND request_id NOT LIKE 'mmxjob_%'").fetchone()[0]
gone = db.execute("SELECT COUNT(*) FROM ledger_records WHERE client_disconnected = 1").fetchone()[0]
estimated = db.execute("SELECT COUNT(*) FROM ledger_records WHERE usage_estimated = 1").fetchone()[0]
records = db.execute("SELECT COUNT(*) FROM ledger_records").fetchone()[0]
doubled = db.execute("SELECT COUNT(*) FROM (SELECT request_id FROM ledger_records WHERE status='ok' AND requested_model <> 'auto-cascade' AND (policy IS NULL OR policy <> 'cascade') AND request_id NOT LIKE 'mmxjob_%' GROUP BY request_id HAVING COUNT(*) > 1)").fetchone()[0]
by_status = dict(db.execute("SELECT status || COALESCE('/' || error_type, ''), COUNT(*) FROM ledger_records GROUP BY 1").fetchall())
batches = load["batches"]
proxy_log = open(f"{work}/proxy.log", errors="replace").read()
batch_faults = proxy_log.count("Batch fault on ")
batch_skipped = proxy_log.count("skipped ")
job_records = {row[0]: row[1:] for row in db.execute("SELECT request_id, COUNT(*), COUNT(DISTINCT id), SUM(status = 'ok'), SUM(usage_estimated) FROM ledger_records WHERE request_id LIKE 'mmxjob_%' GROUP BY request_id")}
batch_requests = sum(j["total"] for j in batches["jobs"].values())
batch_lost = sum(max(0, j["total"] - job_records.get(i, (0,))[0]) for i, j in batches["jobs"].items())
batch_doubled = sum(max(0, job_records.get(i, (0,))[0] - j["total"]) for i, j in batches["jobs"].items()) + sum(r[0] - r[1] for r in job_records.values())
batch_ok_mismatch = sum(1 for i, j in batches["jobs"].items() if (job_records.get(i, (0, 0, 0))[2] or 0) != j["succeeded"])
rss = [tuple(map(int, line.split())) for line in open(f"{work}/rss.txt") if len(line.split()) == 2]
third = max(1, len(rss) // 3)
early = sum(r for _, r in rss[:third]) / third / 1024 if rss else 0
late = sum(r for _, r in rss[-third:]) / third / 1024 if rss else 0
lines = [
  f"- load: {load['sent']} requests sent at a fixed rate over {load['elapsed']:.0f} s ({load['late']} started late), {load['answered']} answered; mix {load['kinds']}",
  f"- throughput: {load['throughput']:.1f} answered/s; latency p50 {load['p50']:.1f} ms, p99 {load['p99']:.1f} ms, max {load['max']:.0f} ms",
  f"- outcomes at the client: {json.dumps(load['outcomes'], sort_keys=True)}",
  f"- ledger: {records} attempt records for {requests} requests; by status: {json.dumps(by_status, sort_keys=True)}",
  f"- hang-ups: {load['hungUp']} clients hung up; {gone} records say the client left, {estimated} carry an estimated usage; FakeAnthropic served {served['served']} calls, the ledger holds {upstream} upstream attempts",
  f"- batch jobs (a lying batch upstream): {batches['queued']} queued, {batches['ended']} ended ({sum(1 for j in batches['jobs'].values() if j['quarantined'])} quarantined) with {batch_requests} requests: {sum(j['succeeded'] for j in batches['jobs'].values())} succeeded, {sum(j['errored'] for j in batches['jobs'].values())} errored; ledger: {sum(r[0] for r in job_records.values())} records ({sum(r[3] or 0 for r in job_records.values())} estimated), {batch_lost} lost, {batch_doubled} doubled; the batcher logged {batch_faults} batch faults and {batch_skipped} results files with skipped lines",
  f"- proxy RSS: {rss[0][1]/1024 if rss else 0:.0f} MB at start, mean {early:.0f} MB over the first third, {late:.0f} MB over the last third, max {max(r for _, r in rss)/1024 if rss else 0:.0f} MB ({len(rss)} samples)",
]
ok = True
if requests < load["answered"]:
  lines.append(f"- FAIL: the ledger has {requests} requests, the generator got {load['answered']} answers"); ok = False
if upstream != served["served"]:
  lines.append(f"- FAIL: FakeAnthropic served {served['served']} calls, the ledger holds {upstream} upstream attempts"); ok = False
if doubled:
  lines.append(f"- FAIL: {doubled} plain requests have more than one successful attempt"); ok = False
if load["answered"] + load["hungUp"] != load["sent"]:
  lines.append(f"- FAIL: {load['sent'] - load['answered'] - load['hungUp']} requests got no answer"); ok = False
if batches["unended"]:
  lines.append(f"- FAIL: {len(batches['unended'])} batch jobs never ended: {batches['unended'][:5]}"); ok = False
if batch_lost or batch_doubled or batch_ok_mismatch:
  lines.append(f"- FAIL: batch requests {batch_lost} lost, {batch_doubled} doubled, {batch_ok_mismatch} jobs whose succeeded count differs from their ok records"); ok = False
if ok:
  lines.append("- ledger check: every answered request recorded, every upstream call in the ledger (hang-ups included), none doubled; every batch job ended, each of its requests recorded once")
text = "\n".join(lines)
print(text)
if out:
  open(out, "w").write(text + "\n")
sys.exit(0 if ok else 1)
PY
