'use strict';
/**
 * One measured benchmark step, run in its own child process by bench/run.js so that its memory
 * numbers are its own. Prints one line `BENCH_RESULT <json>` on stdout.
 *
 *   node bench/worker.js decode    <file>   reading + decoding (CaptureFileParser → PacketBatchBuilder)
 *   node bench/worker.js aggregate <file>   … + FlowAggregator (default options, all scopes)
 *   node bench/worker.js pipeline  <file>   … + the whole core DetectionPipeline (aggregation, baselines, rules, cooldown)
 *   node bench/worker.js aggregate-hosts|pipeline-hosts <file>   the same without flow records (aggregator scopes
 *                                           interface, dstHost, srcHost: what ewma-baseline learns by default)
 *   node --expose-gc bench/worker.js memory-flows [n]   heap + array buffers per tracked flow at n (default 1,000,000) flows
 *   node --expose-gc bench/worker.js memory-keys  [n]   the same per baselined key
 *   node bench/worker.js alloc <file> [decode|aggregate]  allocation sampling (inspector HeapProfiler, collected objects
 *                                                          included) + GC counts per million packets
 *
 * The file is read in 1 MiB chunks with fs.readSync (never whole: a 5M-packet capture is larger than
 * a Node.js Buffer may be), decoded into batches of 4096 packets as pcap-source does, and each batch
 * is handed to the next stage before the next one is built. Time is measured inside the process
 * (process.hrtime) from the first read to the last result; peak RSS and heap are sampled after every
 * 16th batch and at the end (run.js also reads the peak RSS of the whole process from /usr/bin/time).
 */
const fs = require('fs');
const path = require('path');
const v8 = require('v8');

const dist = path.resolve(__dirname, '..', 'dist', 'core');
const { CaptureFileParser } = require(path.join(dist, 'capture-file'));
const { PacketBatchBuilder, DEFAULT_BATCH_SIZE } = require(path.join(dist, 'decoder'));

const CHUNK = 1024 * 1024;

function report(result) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

/** Peak tracker of RSS and V8 heap (used_heap_size) plus array buffers (typed-array storage is outside the V8 heap). */
function memoryTracker() {
  const peak = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
  return {
    peak,
    sample() {
      const m = process.memoryUsage();
      if (m.rss > peak.rss) peak.rss = m.rss;
      if (m.heapUsed > peak.heapUsed) peak.heapUsed = m.heapUsed;
      if (m.arrayBuffers > peak.arrayBuffers) peak.arrayBuffers = m.arrayBuffers;
    },
  };
}

/**
 * Streams `file` through the reader and decoder; calls `onBatch(batch)` for every batch (the last
 * one `final: true`).
 * @returns {{ packetsRead: number, counters: object, bytes: number }}
 */
function streamFile(file, onBatch) {
  const builder = new PacketBatchBuilder(DEFAULT_BATCH_SIZE);
  // the last packet time in a Float64Array: a double stored per packet in a closure variable is boxed
  const last = new Float64Array(1);
  // onPacketAt + addAt: offsets into the reader's chunk, no Buffer view per packet (as core/replay does)
  const parser = new CaptureFileParser({
    onPacketAt(linkType, buf, offset, capturedLength, wireLength, time, ifIndex) {
      if (builder.full) return false;
      builder.addAt(linkType, buf, offset, capturedLength, wireLength, time[0], ifIndex);
      last[0] = time[0];
      return true;
    },
  });
  const fd = fs.openSync(file, 'r');
  let bytes = 0;
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(CHUNK); // the parser may keep a reference to the tail of a chunk
      const n = fs.readSync(fd, chunk, 0, CHUNK, null);
      if (n === 0) break;
      bytes += n;
      let more = parser.push(n === CHUNK ? chunk : chunk.subarray(0, n));
      while (!more) {
        builder.counters.timeClamped = parser.timeClamped;
        onBatch(builder.flush(file, last[0], false));
        more = parser.resume();
      }
      if (parser.failed) throw new Error(`${file}: ${parser.error}`);
    }
  } finally {
    fs.closeSync(fd);
  }
  parser.end();
  builder.counters.timeClamped = parser.timeClamped;
  onBatch(builder.flush(file, last[0], true));
  return { packetsRead: builder.counters.packetsRead, counters: { ...builder.counters }, bytes };
}

/** Runs one throughput step. */
function throughput(step, file) {
  const mem = memoryTracker();
  let consume;
  let summary = () => ({});
  if (step === 'decode') {
    let rows = 0;
    consume = (batch) => { rows += batch.count; };
    summary = () => ({ decodedRows: rows });
  } else if (step === 'aggregate' || step === 'aggregate-hosts') {
    const { FlowAggregator } = require(path.join(dist, 'flow-aggregator'));
    // aggregate-hosts: no flow records (the scopes ewma-baseline learns by default)
    const agg = new FlowAggregator(step === 'aggregate-hosts' ? { scopes: ['interface', 'dstHost', 'srcHost'] } : undefined);
    let windows = 0, records = 0, lastCounters = null;
    consume = (batch) => {
      for (const w of agg.ingest(batch)) { windows++; records += w.records.length; lastCounters = w.counters; }
    };
    summary = () => ({ windows, records, aggregatorCounters: lastCounters });
  } else if (step === 'pipeline' || step === 'pipeline-hosts') {
    const { DetectionPipeline } = require(path.join(dist, 'pipeline'));
    const p = new DetectionPipeline(step === 'pipeline-hosts' ? { aggregator: { scopes: ['interface', 'dstHost', 'srcHost'] } } : undefined);
    let events = 0;
    consume = (batch) => { events += p.ingest(batch).length; };
    summary = () => ({ ...p.stats, eventsPassed: events, aggregatorCounters: p.aggregator.counters, baseline: p.baseline.stats() });
  } else {
    throw new Error(`unknown step ${step}`);
  }
  let batches = 0;
  mem.sample();
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const r = streamFile(file, (batch) => {
    consume(batch);
    if ((++batches & 15) === 0) mem.sample();
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  mem.sample();
  // cpuSeconds: user + system CPU time of the process (all its threads, GC helpers included) — less
  // sensitive than wall time to other processes on a loaded machine
  report({ step, file, packets: r.packetsRead, seconds, pps: r.packetsRead / seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, bytes: r.bytes, decode: r.counters, peak: mem.peak, ...summary() });
}

// ------------------------------------------------------------------------------------------------
// memory per flow / per key
// ------------------------------------------------------------------------------------------------

function settledMemory() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external, rss: m.rss };
}

/**
 * Builds packet batches by hand: `n` distinct TCP 5-tuples, src 10.a.b.c (1,000 hosts) port
 * 1024 + (i / 1000), dst 10.255.0.1:443, 64-byte SYN-less ACK segments, all in one 10 s window.
 */
function* flowBatches(n, batchSize, t0) {
  const make = (count) => ({
    kind: 'netbaseline/packets', version: 1, source: 'memory-bench', seq: 0, count, clockMs: 0, final: false,
    counters: { packetsRead: count, decoded: count, nonIp: 0, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 0 },
    timeMs: new Float64Array(count), wireLength: new Uint32Array(count), ipVersion: new Uint8Array(count),
    srcAddr: new Uint8Array(count * 16), dstAddr: new Uint8Array(count * 16), protocol: new Uint8Array(count),
    srcPort: new Uint16Array(count), dstPort: new Uint16Array(count), tcpFlags: new Uint8Array(count),
    tcpSeq: new Uint32Array(count), tcpAck: new Uint32Array(count), payloadLength: new Uint32Array(count),
    info: new Uint8Array(count), ifIndex: new Uint16Array(count),
  });
  for (let base = 0; base < n; base += batchSize) {
    const count = Math.min(batchSize, n - base);
    const b = make(count);
    for (let r = 0; r < count; r++) {
      const i = base + r;
      const host = i % 1000;
      b.timeMs[r] = t0 + (i / n) * 5000;
      b.wireLength[r] = 64;
      b.ipVersion[r] = 4;
      const s = r * 16, d = r * 16;
      b.srcAddr[s + 10] = 0xff; b.srcAddr[s + 11] = 0xff; b.srcAddr[s + 12] = 10; b.srcAddr[s + 13] = 0; b.srcAddr[s + 14] = host >> 8; b.srcAddr[s + 15] = host & 0xff;
      b.dstAddr[d + 10] = 0xff; b.dstAddr[d + 11] = 0xff; b.dstAddr[d + 12] = 10; b.dstAddr[d + 13] = 255; b.dstAddr[d + 14] = 0; b.dstAddr[d + 15] = 1;
      b.protocol[r] = 6;
      b.srcPort[r] = 1024 + Math.floor(i / 1000);
      b.dstPort[r] = 443;
      b.tcpFlags[r] = 0x10;
    }
    yield b;
  }
}

function memoryFlows(n) {
  const { FlowAggregator } = require(path.join(dist, 'flow-aggregator'));
  const t0 = Date.UTC(2026, 1, 2, 9, 0, 0);
  const before = settledMemory();
  const agg = new FlowAggregator({ maxFlows: n, scopes: ['interface'] });
  const empty = settledMemory();
  for (const b of flowBatches(n, 65536, t0)) agg.ingest(b);
  // close the window (flows stay tracked: idle timeout 60 s > 10 s window)
  agg.ingest({ ...flowBatches(1, 1, t0 + 10_000).next().value, count: 0, clockMs: t0 + 10_000 });
  const tracked = agg.counters.trackedFlows;
  const after = settledMemory();
  const total = (m) => m.heapUsed + m.arrayBuffers;
  report({
    step: 'memory-flows', flows: tracked, requested: n,
    bytesPerFlow: (total(after) - total(before)) / tracked,
    heapBytesPerFlow: (after.heapUsed - before.heapUsed) / tracked,
    arrayBufferBytesPerFlow: (after.arrayBuffers - before.arrayBuffers) / tracked,
    emptyAggregatorBytes: total(empty) - total(before),
    before, after,
  });
  if (agg.counters.trackedFlows < 0) console.log(agg); // keep agg alive until after the measurement
}

function memoryKeys(n) {
  const { BaselineStore } = require(path.join(dist, 'baseline'));
  const t0 = Date.UTC(2026, 1, 2, 9, 0, 0);
  const windowMs = 10_000;
  const before = settledMemory();
  const store = new BaselineStore({ maxKeys: n });
  // n srcHost keys, fed in windows of 50,000 records; every record carries the nine window metrics
  const per = 50_000;
  let w = 0;
  for (let base = 0; base < n; base += per, w++) {
    const records = [];
    const start = t0 + w * windowMs;
    for (let i = base; i < Math.min(n, base + per); i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      records.push({
        scope: 'srcHost', key: `src ${ip}`, srcIp: ip, windowStart: start, windowEnd: start + windowMs,
        metrics: { bytes: 6400, packets: 100, bitsPerSecond: 5120, packetsPerSecond: 10, synCount: 1, synAckCount: 0, newFlows: 1, distinctDstPorts: 1, distinctPeers: 1 },
      });
    }
    store.annotate({ kind: 'netbaseline/window', version: 1, source: 'memory-bench', windowStart: start, windowEnd: start + windowMs, windowMs, gapBeforeMs: 0, final: false, counters: { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: w }, records });
  }
  const keys = store.stats().keys;
  const after = settledMemory();
  const total = (m) => m.heapUsed + m.arrayBuffers;
  report({
    step: 'memory-keys', keys, requested: n, metricsPerKey: 9,
    bytesPerKey: (total(after) - total(before)) / keys,
    heapBytesPerKey: (after.heapUsed - before.heapUsed) / keys,
    before, after,
  });
  if (store.stats().keys < 0) console.log(store);
}

// ------------------------------------------------------------------------------------------------
// allocation check
// ------------------------------------------------------------------------------------------------

async function alloc(file, stage) {
  const inspector = require('inspector');
  const { PerformanceObserver, constants } = require('perf_hooks');
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))));
  let consume = () => {};
  if (stage === 'aggregate') {
    const { FlowAggregator } = require(path.join(dist, 'flow-aggregator'));
    const agg = new FlowAggregator();
    consume = (batch) => { agg.ingest(batch); };
  }
  // warm-up pass (JIT, table growth), then the measured pass
  streamFile(file, consume);
  const gcs = { minor: 0, major: 0, other: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = e.detail ? e.detail.kind : e.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gcs.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major++;
      else gcs.other++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const r = streamFile(file, consume);
  const { profile } = await post('HeapProfiler.stopSampling');
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the gc entries arrive
  obs.disconnect();
  // self size per allocating frame
  const frames = new Map();
  let totalBytes = 0;
  (function walk(node, stack) {
    const cf = node.callFrame;
    const name = `${cf.functionName || '(anonymous)'} ${cf.url ? path.relative(process.cwd(), cf.url.replace(/^file:\/\//, '')) : ''}:${cf.lineNumber + 1}`;
    if (node.selfSize > 0) {
      totalBytes += node.selfSize;
      const e = frames.get(name) || { frame: name, bytes: 0, caller: stack };
      e.bytes += node.selfSize;
      frames.set(name, e);
    }
    for (const c of node.children) walk(c, name);
  })(profile.head, '');
  const top = [...frames.values()].sort((a, b) => b.bytes - a.bytes).slice(0, 12)
    .map((e) => ({ frame: e.frame, caller: e.caller, bytes: e.bytes, bytesPerPacket: +(e.bytes / r.packetsRead).toFixed(3) }));
  report({
    step: `alloc-${stage}`, file, packets: r.packetsRead,
    sampledBytes: totalBytes, sampledBytesPerPacket: totalBytes / r.packetsRead,
    scavengesPerMillionPackets: (gcs.minor * 1e6) / r.packetsRead, markSweepsPerMillionPackets: (gcs.major * 1e6) / r.packetsRead, gcs,
    top,
  });
  session.disconnect();
}

async function main() {
  const [step, arg, extra] = process.argv.slice(2);
  if (['decode', 'aggregate', 'pipeline', 'aggregate-hosts', 'pipeline-hosts'].includes(step)) throughput(step, arg);
  else if (step === 'memory-flows') memoryFlows(Number(arg || 1_000_000));
  else if (step === 'memory-keys') memoryKeys(Number(arg || 1_000_000));
  else if (step === 'alloc') await alloc(arg, extra || 'decode');
  else throw new Error(`usage: node bench/worker.js decode|aggregate|pipeline <file> | memory-flows [n] | memory-keys [n] | alloc <file> [decode|aggregate]`);
  void v8;
}

main().catch((err) => { console.error(err && err.stack || err); process.exit(1); });
