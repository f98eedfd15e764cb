// Fixed-rate (open-loop) load generator for bench/soak.sh: starts one request every 1/RATE s whatever the answers
// take (so a slow proxy shows up as latency, not as a lower rate), for DURATION seconds, then waits for the last
// answers. Mix: streaming, non-streaming, and the auto-cascade alias; a share of clients hang up part-way (before
// the answer, or mid-stream) — their calls must still be in the ledger. Every BATCH_EVERY seconds (0: never) it also
// queues a batch job of 5 requests (POST /v1/modelmix/batch) and, after the load, waits (up to 180 s) for every job to
// end and reports each one's final counts. Prints one JSON summary line on stdout.
//   node loadgen.mjs URL RATE DURATION STREAM_SHARE CASCADE_SHARE [HANGUP_SHARE] [BATCH_EVERY]
const [url, rate, duration, streamShare, cascadeShare, hangupShare = '0', batchEvery = '0'] = process.argv.slice(2);
const perSecond = Number(rate);
const seconds = Number(duration);
const latencies = [];
const outcomes = {};
const kinds = { stream: 0, json: 0, cascade: 0 };
let sent = 0;
let answered = 0;
let hungUp = 0;
let late = 0;
const count = (key) => { outcomes[key] = (outcomes[key] ?? 0) + 1; };

async function one(i) {
  const cascade = Math.random() < Number(cascadeShare);
  const stream = !cascade && Math.random() < Number(streamShare);
  kinds[cascade ? 'cascade' : stream ? 'stream' : 'json']++;
  const body = JSON.stringify({ model: cascade ? 'auto-cascade' : 'claude-haiku-4-5', max_tokens: 64, stream, messages: [{ role: 'user', content: `soak request ${i}` }] });
  const started = performance.now();
  if (Math.random() < Number(hangupShare)) {
    // A client that hangs up after 0–30 ms: before the answer, or part-way through a stream.
    const leave = new AbortController();
    setTimeout(() => leave.abort(), Math.random() * 30);
    hungUp++;
    try {
      const response = await fetch(url + 'v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body, signal: leave.signal });
      await response.text();
      count('hangup_too_late'); // the answer was complete before the client left
    } catch {
      count('hangup');
    }
    return;
  }
  try {
    const response = await fetch(url + 'v1/messages', { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body, signal: AbortSignal.timeout(120000) });
    const text = await response.text();
    latencies.push(performance.now() - started);
    answered++;
    if (response.status !== 200) {
      let type = 'unparsed';
      try { type = JSON.parse(text).error.type; } catch { }
      count(`http_${response.status}_${type}`);
    } else if (stream && text.includes('event: error')) {
      const match = /event: error\ndata: (.*)\n/.exec(text);
      let type = 'unparsed';
      try { type = JSON.parse(match[1]).error.type; } catch { }
      count(`stream_error_event_${type}`);
    } else {
      count(stream ? 'ok_stream' : 'ok_json');
    }
  } catch (error) {
    count(`client_${error.name}`);
  }
}

const headers = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
const jobs = [];
async function batchJob(n) {
  const requests = Array.from({ length: 5 }, (_, k) => ({ custom_id: `b${n}-${k}`, params: { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: `soak batch ${n}.${k}` }] } }));
  try {
    const response = await fetch(url + 'v1/modelmix/batch', { method: 'POST', headers, body: JSON.stringify({ requests }), signal: AbortSignal.timeout(30000) });
    const job = await response.json();
    if (response.status === 200) jobs.push(job.id); else count(`batch_submit_http_${response.status}`);
  } catch (error) {
    count(`batch_submit_${error.name}`);
  }
}

async function waitForJobs() {
  const until = performance.now() + 180000;
  const ended = {};
  while (performance.now() < until && Object.keys(ended).length < jobs.length) {
    for (const id of jobs.filter((j) => !(j in ended))) {
      try {
        const job = await (await fetch(url + `v1/modelmix/batch/${id}`, { signal: AbortSignal.timeout(10000) })).json();
        if (job.processing_status === 'ended') ended[id] = { total: job.total, ...job.request_counts, quarantined: job.quarantined_at != null };
      } catch { }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return { queued: jobs.length, ended: Object.keys(ended).length, jobs: ended, unended: jobs.filter((j) => !(j in ended)) };
}

const inflight = [];
const start = performance.now();
const batchInterval = Number(batchEvery) > 0 ? Math.round(Number(batchEvery) * perSecond) : 0;
const interval = 1000 / perSecond;
for (let i = 0; ; i++) {
  const due = start + i * interval;
  if (due - start >= seconds * 1000) break;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  else if (wait < -interval) late++;
  sent++;
  inflight.push(one(i));
  if (batchInterval > 0 && i % batchInterval === 0) inflight.push(batchJob(i / batchInterval));
}
await Promise.all(inflight);
const elapsed = (performance.now() - start) / 1000;
const batches = batchInterval > 0 ? await waitForJobs() : { queued: 0, ended: 0, jobs: {}, unended: [] };
latencies.sort((a, b) => a - b);
const pct = (p) => latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null;
console.log(JSON.stringify({ sent, answered, hungUp, late, elapsed, throughput: answered / elapsed, p50: pct(0.5), p99: pct(0.99), max: latencies.at(-1) ?? null, kinds, outcomes, batches }));
