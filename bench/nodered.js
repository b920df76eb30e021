'use strict';
/**
 * Step 4 of the benchmark: the whole flow inside a real Node-RED runtime.
 *
 * The packed package is installed into a fresh Node-RED user directory (scripts/e2e-setup.js,
 * `prepareRuntime('nr4')`, under $E2E_DIR, default <tmp>/netbaseline-bench/e2e so that it never
 * touches the end-to-end tests' folder), and each run starts its own Node-RED process
 * (test/support/node-red-process.js) with a settings file that adds, inside the Node-RED process:
 * - `perf_hooks.monitorEventLoopDelay` (resolution 5 ms) and a 100 ms sampler of peak heap / RSS;
 * - `functionGlobalContext.bench`, which function nodes of the benchmark flow call to record the
 *   times of events (`bench.mark(name, data)`);
 * - `httpAdminMiddleware` answering `GET /nb-bench/reset` and `GET /nb-bench/report` (JSON).
 *
 * The flow is examples/replay-demo-capture.json (the six nodes wired the same way, the same
 * settings) with the capture file replaced, ewma-baseline's persistence off (each run starts with
 * empty baselines), and two pass-through function nodes on existing single wires — between
 * pcap-source's event output and its debug node, and between ewma-baseline and rule-detector — that
 * mark `replay-complete` and the `final` window. A message is only cloned for the second and later
 * wires of an output, so these taps add no clone. Time = from just before the deploy (POST /flows,
 * the replay starts on deploy) to the later of the two marks (taken with Date.now() inside Node-RED).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const root = path.resolve(__dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Settings file text for a run on `port`. */
function settingsText(port) {
  return `'use strict';
const { monitorEventLoopDelay } = require('perf_hooks');
const histogram = monitorEventLoopDelay({ resolution: 5 });
histogram.enable();
const peak = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
const sample = () => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss) peak.rss = m.rss;
  if (m.heapUsed > peak.heapUsed) peak.heapUsed = m.heapUsed;
  if (m.arrayBuffers > peak.arrayBuffers) peak.arrayBuffers = m.arrayBuffers;
};
setInterval(sample, 100).unref();
let marks = {};
let counts = {};
// Time each node's input handler runs synchronously (Node-RED message hooks onReceive → postReceive),
// per node type: which handler holds the event loop, and for how long. Async work after the handler
// returns (e.g. a window annotated in slices) is not in these numbers, only in the event-loop delay.
let handlers = {};
try {
  const path = require('path');
  const util = require(require.resolve('@node-red/util', { paths: [path.dirname(require.main.filename)] }));
  const T0 = Symbol('nbBenchT0');
  util.hooks.add('onReceive.nbBench', (evt) => { evt[T0] = performance.now(); });
  util.hooks.add('postReceive.nbBench', (evt) => {
    if (evt[T0] === undefined) return;
    const ms = performance.now() - evt[T0];
    const type = (evt.destination && evt.destination.node && evt.destination.node.type) || '?';
    const h = handlers[type] || (handlers[type] = { calls: 0, totalMs: 0, maxMs: 0, over50ms: 0 });
    h.calls++; h.totalMs += ms; if (ms > h.maxMs) h.maxMs = ms; if (ms > 50) h.over50ms++;
  });
} catch (err) { handlers = { error: String(err) }; }
const bench = {
  mark(name, data) { if (!marks[name]) marks[name] = { t: Date.now(), data: data === undefined ? null : data }; },
  count(name) { counts[name] = (counts[name] || 0) + 1; },
};
function report() {
  sample();
  const ms = (ns) => ns / 1e6;
  return {
    now: Date.now(), marks, counts, peak, handlers,
    eventLoopDelayMs: { min: ms(histogram.min), mean: ms(histogram.mean), p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), samples: histogram.count },
  };
}
module.exports = {
  uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: false,
  logging: { console: { level: 'info', metrics: false, audit: false } }, editorTheme: { tours: false },
  functionGlobalContext: { bench },
  httpAdminMiddleware(req, res, next) {
    if (req.url.startsWith('/nb-bench/reset')) {
      histogram.reset(); marks = {}; counts = {}; if (!handlers.error) handlers = {}; peak.rss = peak.heapUsed = peak.arrayBuffers = 0; sample();
      res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify(report())); return;
    }
    if (req.url.startsWith('/nb-bench/report')) { res.setHeader('Content-Type', 'application/json'); res.end(JSON.stringify(report())); return; }
    next();
  },
};
`;
}

/** The benchmark flow: the replay example with `file` and the two taps. */
function benchFlow(file, options = {}) {
  const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'replay-demo-capture.json'), 'utf8'));
  const flow = example.map((n) => ({ ...n }));
  const byType = (t) => flow.find((n) => n.type === t);
  const src = byType('pcap-source');
  const base = byType('ewma-baseline');
  const det = byType('rule-detector');
  if (!src || !base || !det) throw new Error('examples/replay-demo-capture.json no longer holds pcap-source, ewma-baseline and rule-detector');
  const z = src.z;
  src.filename = file;
  src.mode = 'file';
  src.speed = 'max';
  src.startOnDeploy = true;
  base.persist = false;
  if (options.hostsOnly) {
    const agg = byType('flow-aggregator');
    agg.scopeFlow = false; // diagnostic: no flow records (ewma-baseline and rule-detector do not use them by default)
  }
  // tap 1: pcap-source output 2 → tap → (what output 2 fed before)
  const eventTargets = (src.wires[1] || []);
  const tapEvents = {
    id: 'nb-bench-tap-events', type: 'function', z, name: 'bench: mark replay-complete', outputs: 1, noerr: 0,
    func: "const p = msg.payload;\nif (p && p.event === 'replay-complete') global.get('bench').mark('replay-complete', { packetsRead: p.summary && p.summary.packetsRead, counters: p.summary && p.summary.counters });\nelse if (p && p.event === 'error') global.get('bench').mark('error', { message: p.message });\nreturn msg;",
    x: 300, y: 300, wires: [eventTargets],
  };
  src.wires = [src.wires[0], ['nb-bench-tap-events']];
  // tap 2: ewma-baseline output 1 → tap → rule-detector
  const baseTargets = base.wires[0] || [];
  if (baseTargets.length !== 1 || baseTargets[0] !== det.id) throw new Error('expected ewma-baseline → rule-detector on one wire in the replay example');
  const tapWindows = {
    id: 'nb-bench-tap-windows', type: 'function', z, name: 'bench: mark final window', outputs: 1, noerr: 0,
    func: "const p = msg.payload;\nconst b = global.get('bench');\nb.count('windows');\nif (p && p.final === true) b.mark('final-window', { windowEnd: p.windowEnd, counters: p.counters, records: p.records.length });\nreturn msg;",
    x: 600, y: 300, wires: [[det.id]],
  };
  base.wires = [['nb-bench-tap-windows'], ...(base.wires.slice(1))];
  flow.push(tapEvents, tapWindows);
  return flow;
}

let runtimeCache = null;

/**
 * Packs the repository and installs it into a fresh Node-RED 4 user directory (once per process).
 * @returns {{ node: string, red: string, userDir: string, label: string }}
 */
function prepare() {
  if (runtimeCache) return runtimeCache;
  if (!process.env.E2E_DIR) process.env.E2E_DIR = path.join(os.tmpdir(), 'netbaseline-bench', 'e2e');
  const { prepareRuntime } = require(path.join(root, 'scripts', 'e2e-setup.js'));
  runtimeCache = prepareRuntime('nr4');
  return runtimeCache;
}

async function freePort() {
  const { freePort: fp } = require(path.join(root, 'test', 'support', 'node-red-process.js'));
  return fp();
}

/**
 * One run: start Node-RED, deploy the benchmark flow replaying `file`, wait for both marks.
 * @param {string} file absolute path of the capture
 * @param {{ timeoutMs?: number, hostsOnly?: boolean }} [options] hostsOnly: flow-aggregator without flow records
 * @returns {Promise<{ ok: boolean, error?: string, packets: number, seconds: number, pps: number, replayCompleteSeconds: number,
 *   peakRssBytes: number, peakHeapUsedBytes: number, eventLoopDelayMs: object, windows: number, aggregatorCounters: object }>}
 */
async function runOnce(file, options = {}) {
  const runtime = prepare();
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const port = await freePort();
  const settings = path.join(runtime.userDir, 'bench-settings.js');
  fs.writeFileSync(settings, settingsText(port));
  fs.rmSync(path.join(runtime.userDir, 'flows.json'), { force: true });
  fs.rmSync(path.join(runtime.userDir, 'netbaseline'), { recursive: true, force: true });
  const log = [];
  // diagnostics: NB_NODERED_PROF_DIR writes a V8 CPU profile of the Node-RED process there (when it
  // exits); NB_NODERED_NODE_ARGS adds Node.js options (space-separated, e.g. --trace-gc)
  const profArgs = process.env.NB_NODERED_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NB_NODERED_PROF_DIR}`] : [];
  if (process.env.NB_NODERED_NODE_ARGS) profArgs.push(...process.env.NB_NODERED_NODE_ARGS.split(/\s+/).filter(Boolean));
  const child = spawn(runtime.node, [...profArgs, runtime.red, '--userDir', runtime.userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (chunk) => { for (const line of chunk.toString().split('\n')) if (line.trim()) { log.push(line); if (process.env.NB_NODERED_LOG) fs.appendFileSync(process.env.NB_NODERED_LOG, line + '\n'); if (log.length > 400) log.shift(); } };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise((r) => child.once('exit', r));
  const base = `http://127.0.0.1:${port}`;
  const getJson = async (p) => { const r = await fetch(`${base}${p}`); if (!r.ok) throw new Error(`GET ${p}: HTTP ${r.status}`); return r.json(); };
  const fail = (msg) => ({ ok: false, error: `${msg}\n--- Node-RED log (last 30 lines) ---\n${log.slice(-30).join('\n')}` });
  try {
    const startDeadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) return fail('Node-RED exited during start');
      try { const r = await fetch(`${base}/settings`); if (r.ok) break; } catch { /* not yet */ }
      if (Date.now() > startDeadline) return fail('Node-RED did not answer within 60 s');
      await sleep(200);
    }
    await getJson('/nb-bench/reset');
    const t0 = Date.now();
    const r = await fetch(`${base}/flows`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' }, body: JSON.stringify(benchFlow(file, { hostsOnly: options.hostsOnly })) });
    if (r.status !== 200 && r.status !== 204) return fail(`POST /flows: HTTP ${r.status}`);
    const deadline = t0 + timeoutMs;
    let rep;
    for (;;) {
      await sleep(250);
      rep = await getJson('/nb-bench/report');
      if (rep.marks.error) return fail(`pcap-source reported an error: ${rep.marks.error.data.message}`);
      if (rep.marks['replay-complete'] && rep.marks['final-window']) break;
      if (child.exitCode !== null) return fail('Node-RED exited during the replay');
      if (Date.now() > deadline) return fail(`no replay-complete and final window within ${timeoutMs} ms`);
    }
    const end = Math.max(rep.marks['replay-complete'].t, rep.marks['final-window'].t);
    const seconds = (end - t0) / 1000;
    const packets = rep.marks['replay-complete'].data.packetsRead;
    let peakRssBytes = 0;
    try { peakRssBytes = Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024; } catch { peakRssBytes = rep.peak.rss; }
    const nodeErrors = log.filter((l) => /\[error\]/.test(l));
    return {
      ok: true, packets, seconds, pps: packets / seconds,
      replayCompleteSeconds: (rep.marks['replay-complete'].t - t0) / 1000,
      finalWindowSeconds: (rep.marks['final-window'].t - t0) / 1000,
      peakRssBytes, peakHeapUsedBytes: rep.peak.heapUsed, peakArrayBuffersBytes: rep.peak.arrayBuffers,
      eventLoopDelayMs: rep.eventLoopDelayMs, handlers: rep.handlers, windows: rep.counts.windows || 0,
      aggregatorCounters: rep.marks['final-window'].data.counters, nodeErrors: nodeErrors.slice(0, 5),
      runtime: runtime.label,
    };
  } catch (err) {
    return fail(String(err && err.stack || err));
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

module.exports = { runOnce, prepare, benchFlow, settingsText };

if (require.main === module) {
  (async () => {
    const file = process.argv[2];
    if (!file) { console.error('usage: node bench/nodered.js <capture file>'); process.exit(2); }
    const r = await runOnce(path.resolve(file));
    console.log(JSON.stringify(r, null, 2));
    process.exit(r.ok ? 0 : 1);
  })();
}
