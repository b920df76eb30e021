'use strict';
/**
 * Live-capture rate of the benchmark: the highest tcpreplay `--pps` at which our capture
 * (core/live-capture through node_pcap + libpcap, each batch folded into a FlowAggregator as the
 * flow-aggregator node does) sees every packet with zero kernel drops.
 *
 * Isolation: a network namespace of our own (`nbbench-<pid>`) holding BOTH ends of a veth pair
 * (nbA, nbB) and nothing else: tcpreplay sends on nbA inside the namespace, the capture listens on
 * nbB inside the namespace (`ip netns exec`). The namespace has no route and no other interface, so
 * no frame leaves it; it is deleted at the end (also on an error or Ctrl-C).
 *
 * For each rate (default 50k, 100k, 200k, 300k, 400k, 600k, 800k, 1M packets/s) a fresh capture
 * process is started, tcpreplay sends min(rate × 12 s, file) packets (at least one 10 s window closes meanwhile), then the process reports
 * libpcap's statistics (ps_recv, ps_drop, ps_ifdrop) and what it decoded. The first rate with drops
 * (kernel or interface) or missing packets ends the climb.
 *
 *   node bench/live.js <capture file> [rate,rate,…]     (root, iproute2 and tcpreplay needed)
 *   NB_LIVE_NO_AGG=1 node bench/live.js …               the same with capture + decode only (no FlowAggregator)
 *   NB_LIVE_SYNC=1 node bench/live.js …                 aggregation all at once per batch (not in the node's 20 ms turns)
 *   NB_LIVE_BUFFER_MB=64 node bench/live.js …           another kernel capture buffer (default 10 MiB, as pcap-source)
 *   node bench/live.js --capture-worker <iface>          (internal: the capture process)
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { which } = require('./tools');

const DEFAULT_RATES = [50_000, 100_000, 200_000, 300_000, 400_000, 600_000, 800_000, 1_000_000];
const SECONDS_PER_RATE = 12; // longer than a 10 s window, so every rate includes at least one window close

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Why live capture cannot be measured here, or null when it can. */
function unavailableReason() {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root to create a network namespace (run the benchmark as root, or skip with --no-live)';
  if (!which('ip')) return 'iproute2 (ip) not installed: apt-get install iproute2';
  if (!which('tcpreplay')) return 'tcpreplay not installed: apt-get install tcpreplay';
  try { require('pcap'); } catch (err) { return `the pcap module is not available (${err.message.split('\n')[0]}): apt-get install libpcap-dev, then npm rebuild pcap`; }
  return null;
}

/** Runs in the namespace: captures on `iface`, folds batches into an aggregator, reports on "stop". */
function captureWorker(iface) {
  const dist = path.resolve(__dirname, '..', 'dist', 'core');
  const { LiveCapture } = require(path.join(dist, 'live-capture'));
  const { FlowAggregator } = require(path.join(dist, 'flow-aggregator'));
  const agg = new FlowAggregator();
  let rows = 0, windows = 0, errors = 0;
  // As the flow-aggregator node does it (src/nodes/flow-aggregator.ts): batches queued in order, each
  // worked through in turns of at most SLICE_BUDGET_MS_AGGREGATOR, yielding to the event loop between
  // turns, so that a window close does not hold up libpcap's reads. NB_LIVE_SYNC=1: all at once.
  const { performance } = require('perf_hooks');
  const budgetMs = 20; // SLICE_BUDGET_MS_AGGREGATOR in src/nodes/flow-aggregator.ts
  const queue = [];
  let maxQueuedBatches = 0; // how far the aggregation fell behind the capture (batches of up to 4,096 packets)
  let working = false;
  const work = () => {
    const turnStart = performance.now();
    while (queue.length > 0) {
      if (!queue[0].job) queue[0].job = agg.beginIngest(queue[0].batch);
      const job = queue[0].job;
      let done = false;
      while (!(done = job.step()) && performance.now() - turnStart < budgetMs);
      if (!done) { setImmediate(work); return; }
      windows += job.windows ? job.windows.length : 0;
      queue.shift();
      if (performance.now() - turnStart >= budgetMs && queue.length > 0) { setImmediate(work); return; }
    }
    working = false;
  };
  const cap = new LiveCapture({
    interface: iface, batchSize: 4096,
    // NB_LIVE_BUFFER_MB: the kernel capture buffer (pcap-source's "Buffer size"; default 10 MiB)
    ...(process.env.NB_LIVE_BUFFER_MB ? { bufferSize: Number(process.env.NB_LIVE_BUFFER_MB) * 1024 * 1024 } : {}),
    onBatch: (batch) => {
      rows += batch.count;
      if (process.env.NB_LIVE_NO_AGG) return;
      if (process.env.NB_LIVE_SYNC) { windows += agg.ingest(batch).length; return; }
      queue.push({ batch, job: null });
      if (queue.length > maxQueuedBatches) maxQueuedBatches = queue.length;
      if (!working) { working = true; setImmediate(work); }
    },
    onError: () => { errors++; },
  });
  cap.start();
  process.stdout.write('READY\n');
  process.stdin.on('data', (d) => {
    if (!/stop/.test(String(d))) return;
    const stats = cap.stats();
    const counters = cap.counters;
    cap.stop();
    process.stdout.write(`RESULT ${JSON.stringify({ stats, counters, rows, windows, errors, queuedBatches: queue.length, maxQueuedBatches })}\n`);
    setTimeout(() => process.exit(0), 100);
  });
}

function waitLine(child, prefix, timeoutMs) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`capture process: no ${prefix} within ${timeoutMs} ms`)), timeoutMs);
    const onData = (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.startsWith(prefix));
      if (line) { clearTimeout(timer); child.stdout.off('data', onData); resolve(line); }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`capture process exited (${code}) before ${prefix}`)); });
  });
}

/**
 * Climbs the rates.
 * @param {{ file: string, rates?: number[], log?: (s: string) => void }} o
 * @returns {Promise<{ skipped?: string, namespace?: string, rates?: object[], maxZeroDropPps?: number|null, error?: string }>}
 */
async function runLive(o) {
  const log = o.log || (() => {});
  const reason = unavailableReason();
  if (reason) { log(`live capture: skipped: ${reason}`); return { skipped: reason }; }
  const ns = `nbbench-${process.pid}`;
  const totalPackets = (() => { try { return JSON.parse(fs.readFileSync(o.file.replace(/-(full|snap96)\.pcap$/, '.json'), 'utf8')).counts.packets; } catch { return Infinity; } })();
  const results = [];
  const cleanup = () => { spawnSync('ip', ['netns', 'del', ns]); };
  const onSignal = () => { cleanup(); process.exit(130); };
  process.once('SIGINT', onSignal);
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'add', 'nbA', 'type', 'veth', 'peer', 'name', 'nbB']);
    sh('ip', ['-n', ns, 'link', 'set', 'nbA', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'nbB', 'up']);
    log(`live capture: namespace ${ns}, tcpreplay → veth nbA → nbB ← capture (file ${path.basename(o.file)})`);
    let maxOk = null;
    for (const rate of o.rates || DEFAULT_RATES) {
      const limit = Math.min(rate * SECONDS_PER_RATE, totalPackets);
      const worker = spawn('ip', ['netns', 'exec', ns, process.execPath, __filename, '--capture-worker', 'nbB'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      worker.stderr.on('data', (d) => { stderr += d; });
      try {
        await waitLine(worker, 'READY', 15_000);
      } catch (err) { worker.kill('SIGKILL'); throw new Error(`${err.message}: ${stderr.slice(-500)}`); }
      await new Promise((r) => setTimeout(r, 300));
      const t = spawnSync('ip', ['netns', 'exec', ns, 'tcpreplay', '-i', 'nbA', '--pps', String(rate), '--limit', String(limit), o.file], { encoding: 'utf8', maxBuffer: 256 << 20 });
      const out = `${t.stdout}${t.stderr}`;
      const sentM = /Actual: (\d+) packets .* sent in ([\d.]+) seconds/.exec(out);
      const ratedM = /Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(out);
      const failedM = /Failed packets:\s+(\d+)/.exec(out);
      await new Promise((r) => setTimeout(r, 800)); // let the last batch flush
      const resultLine = waitLine(worker, 'RESULT', 15_000);
      worker.stdin.write('stop\n');
      const line = await resultLine.catch((err) => { worker.kill('SIGKILL'); throw err; });
      const res = JSON.parse(line.slice('RESULT '.length));
      const sent = sentM ? Number(sentM[1]) : NaN;
      const r = {
        requestedPps: rate, sent, sendSeconds: sentM ? Number(sentM[2]) : NaN, achievedPps: ratedM ? Number(ratedM[1]) : NaN,
        failedToSend: failedM ? Number(failedM[1]) : NaN,
        received: res.stats?.received ?? 0, droppedByKernel: res.stats?.droppedByKernel ?? 0, droppedByInterface: res.stats?.droppedByInterface ?? 0,
        decoded: res.rows, windows: res.windows,
        // batches the aggregation still had queued 0.8 s after the last packet, and the most it ever had
        queuedBatchesAtEnd: res.queuedBatches ?? 0, maxQueuedBatches: res.maxQueuedBatches ?? 0,
      };
      r.zeroDrops = r.droppedByKernel === 0 && r.droppedByInterface === 0 && r.decoded >= r.sent;
      results.push(r);
      log(`  --pps ${rate}: sent ${r.sent} at ${Math.round(r.achievedPps)} pps, received ${r.received}, decoded ${r.decoded}, kernel drops ${r.droppedByKernel}, interface drops ${r.droppedByInterface}, aggregation queue max ${r.maxQueuedBatches} batches, ${r.queuedBatchesAtEnd} at the end → ${r.zeroDrops ? 'no loss' : 'LOSS'}`);
      if (!r.zeroDrops) break;
      maxOk = r.achievedPps;
    }
    return { namespace: ns, rates: results, maxZeroDropPps: maxOk };
  } catch (err) {
    log(`live capture: FAILED: ${err.message}`);
    return { namespace: ns, rates: results, error: err.message };
  } finally {
    cleanup();
    process.removeListener('SIGINT', onSignal);
  }
}

module.exports = { runLive, unavailableReason };

if (require.main === module) {
  if (process.argv[2] === '--capture-worker') captureWorker(process.argv[3]);
  else {
    const file = process.argv[2];
    if (!file) { console.error('usage: node bench/live.js <capture file> [rate,rate,…]'); process.exit(2); }
    const rates = process.argv[3] ? process.argv[3].split(',').map(Number) : undefined;
    runLive({ file: path.resolve(file), rates, log: console.log }).then((r) => { console.log(JSON.stringify(r, null, 2)); });
  }
}
