#!/usr/bin/env node
'use strict';
/**
 * Benchmark (not a test): a spoofed-source TCP SYN flood of 5 million distinct sources against one
 * victim, fed to the flow-aggregator with its default caps, in memory (packet batches are built
 * directly, no capture file). Reports peak RSS and heap, the memory held by the flow table per tracked
 * flow, and the victim's dstHost record, which must carry every SYN of the flood.
 *
 *   npm run build && node --expose-gc bench/flood.js [sources=5000000] [pps=100000]
 *   FLOOD_SCOPES=interface,dstHost,srcHost,service,hostPair,subnet node --expose-gc bench/flood.js
 *
 * FLOOD_SCOPES (comma list) chooses the scopes emitted (default interface, dstHost, srcHost); with
 * service / subnet the victim's service `10.10.10.10:80/tcp` and subnet `dst 10.10.10.0/24` records
 * must carry the flood too, and with hostPair the pair table sits at its cap.
 *
 * Each source sends one SYN (a new 5-tuple each), so the flow table sits at its cap (evicting the
 * least recently seen flow for every packet) and the host tables at theirs, while the victim's
 * record and the interface record count every packet. Exit code 1 when the victim's record does not
 * carry the flood, tracked flows exceed the cap, the flow table takes more than 256 bytes per tracked
 * flow, or the victim's distinct sources (a HyperLogLog estimate past the host cap: every spoofed
 * source sends one packet, so a window's distinct sources = its packets) are not flagged `estimate`
 * or miss the truth by more than 3 standard errors (3 × 1.04 / √4096).
 */
const { FlowAggregator, AGGREGATOR_DEFAULTS } = require('../dist/core/flow-aggregator');
const { IPPROTO, TCP_FLAG } = require('../dist/core/contracts');

const SOURCES = Number(process.argv[2] || 5_000_000);
const PPS = Number(process.argv[3] || 100_000);
const BATCH = 8192;
const T0 = 1_700_000_000_000;
const VICTIM = [10, 10, 10, 10];

const gc = typeof global.gc === 'function' ? global.gc : () => {};
const mb = (n) => `${(n / 1048576).toFixed(1)} MiB`;

/** One set of batch columns, refilled for every batch (the aggregator keeps no reference to a batch). */
function newBatch() {
  return {
    kind: 'netbaseline/packets', version: 1, source: 'bench:syn-flood', seq: 0, count: 0,
    timeMs: new Float64Array(BATCH), wireLength: new Uint32Array(BATCH), ipVersion: new Uint8Array(BATCH),
    srcAddr: new Uint8Array(16 * BATCH), dstAddr: new Uint8Array(16 * BATCH), protocol: new Uint8Array(BATCH),
    srcPort: new Uint16Array(BATCH), dstPort: new Uint16Array(BATCH), tcpFlags: new Uint8Array(BATCH),
    tcpSeq: new Uint32Array(BATCH), tcpAck: new Uint32Array(BATCH), payloadLength: new Uint32Array(BATCH),
    info: new Uint8Array(BATCH), ifIndex: new Uint16Array(BATCH),
    clockMs: 0, final: false,
    counters: { packetsRead: 0, packetsDecoded: 0, nonIp: 0, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 0 },
  };
}

/** Fills `b` with packets `from … from+n-1` of the flood: source i = 11.0.0.0 + i (spoofed), one SYN each. */
function fill(b, from, n, final) {
  for (let k = 0; k < n; k++) {
    const i = from + k;
    const o = 16 * k;
    b.timeMs[k] = T0 + (i * 1000) / PPS;
    b.wireLength[k] = 60;
    b.ipVersion[k] = 4;
    b.srcAddr[o + 10] = 0xff; b.srcAddr[o + 11] = 0xff;
    const a = 11 * 16777216 + i; // 11.0.0.0 + i: 5 M distinct addresses
    b.srcAddr[o + 12] = (a >>> 24) & 255; b.srcAddr[o + 13] = (a >>> 16) & 255; b.srcAddr[o + 14] = (a >>> 8) & 255; b.srcAddr[o + 15] = a & 255;
    b.dstAddr[o + 10] = 0xff; b.dstAddr[o + 11] = 0xff;
    b.dstAddr[o + 12] = VICTIM[0]; b.dstAddr[o + 13] = VICTIM[1]; b.dstAddr[o + 14] = VICTIM[2]; b.dstAddr[o + 15] = VICTIM[3];
    b.protocol[k] = IPPROTO.TCP;
    b.srcPort[k] = 1024 + (i % 60000);
    b.dstPort[k] = 80;
    b.tcpFlags[k] = TCP_FLAG.SYN;
    b.tcpSeq[k] = (i * 2654435761) >>> 0;
    b.payloadLength[k] = 40; // TCP header with options, no data
  }
  b.count = n;
  b.clockMs = b.timeMs[n - 1];
  b.final = final;
  b.seq++;
  b.counters.packetsRead += n; b.counters.packetsDecoded += n;
}

function main() {
  gc();
  const before = process.memoryUsage();
  // flow records of 100k one-packet flows per window are not the point here
  const scopes = (process.env.FLOOD_SCOPES || 'interface,dstHost,srcHost').split(',').map((x) => x.trim()).filter((x) => x !== '');
  const agg = new FlowAggregator({ scopes });
  const caps = { maxFlows: agg.options.maxFlows, maxHostsPerWindow: agg.options.maxHostsPerWindow };
  const b = newBatch();
  let peakRss = 0, peakHeap = 0, peakArrayBuffers = 0;
  let victimSyn = 0, victimPackets = 0, ifaceSyn = 0, maxTracked = 0, windows = 0;
  let victimPeersMax = 0, victimPeersMaxRelError = 0, victimPeersFlag = null;
  const HLL_SE = 1.04 / Math.sqrt(4096);
  let serviceSyn = 0, subnetSyn = 0, maxRecordsPerWindow = 0;
  const started = process.hrtime.bigint();
  for (let from = 0; from < SOURCES; from += BATCH) {
    const n = Math.min(BATCH, SOURCES - from);
    fill(b, from, n, from + n >= SOURCES);
    const out = agg.ingest(b);
    if (out.length > 0) {
      // the records of a closed window are alive here: the peak
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss); peakHeap = Math.max(peakHeap, m.heapUsed); peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
    }
    for (const w of out) {
      windows++;
      maxTracked = Math.max(maxTracked, w.counters.trackedFlows);
      maxRecordsPerWindow = Math.max(maxRecordsPerWindow, w.records.length);
      for (const r of w.records) {
        if (r.key === '10.10.10.10:80/tcp') serviceSyn += r.metrics.synCount;
        else if (r.key === 'dst 10.10.10.0/24') subnetSyn += r.metrics.synCount;
        if (r.key === 'dst 10.10.10.10') {
          victimSyn += r.metrics.synCount; victimPackets += r.metrics.packets;
          victimPeersMax = Math.max(victimPeersMax, r.metrics.distinctPeers);
          // each spoofed source sends one packet: distinct sources of the window = its packets
          victimPeersMaxRelError = Math.max(victimPeersMaxRelError, Math.abs(r.metrics.distinctPeers - r.metrics.packets) / r.metrics.packets);
          const flag = (r.distinctAccuracy && r.distinctAccuracy.distinctPeers) || 'exact';
          if (victimPeersFlag === null || flag !== 'estimate') victimPeersFlag = flag;
        } else if (r.scope === 'interface') ifaceSyn += r.metrics.synCount;
      }
    }
    if ((from / BATCH) % 16 === 0) {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss); peakHeap = Math.max(peakHeap, m.heapUsed); peakArrayBuffers = Math.max(peakArrayBuffers, m.arrayBuffers);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const c = agg.counters;

  // memory held by the flow table per tracked flow: the typed-array columns of a table grown to its
  // cap (every column is sized by capacity; the hash buckets are 2 × capacity rounded up to a power of 2)
  const table = agg.flows; // private in TypeScript, reachable from JavaScript: a benchmark may look
  let columnBytes = 0;
  for (const v of Object.values(table)) if (ArrayBuffer.isView(v)) columnBytes += v.byteLength;
  const capacity = table.active.length;
  const bytesPerFlow = columnBytes / capacity;

  const maxRssKb = process.resourceUsage().maxRSS;
  const report = {
    sources: SOURCES,
    packetsPerSecondOfPacketTime: PPS,
    defaults: { ...caps, windowMs: AGGREGATOR_DEFAULTS.windowMs },
    windows,
    wallSeconds: Number(seconds.toFixed(2)),
    packetsPerWallSecond: Math.round(SOURCES / seconds),
    counters: c,
    maxTrackedFlows: maxTracked,
    victim: {
      synCount: victimSyn, packets: victimPackets, maxDistinctPeersPerWindow: victimPeersMax,
      distinctPeersAccuracy: victimPeersFlag, distinctPeersMaxRelativeError: Number(victimPeersMaxRelError.toFixed(4)),
      distinctPeersStandardError: Number(HLL_SE.toFixed(5)),
    },
    interfaceSynCount: ifaceSyn,
    scopes,
    maxRecordsPerWindow,
    ...(scopes.includes('service') ? { victimServiceSynCount: serviceSyn } : {}),
    ...(scopes.includes('subnet') ? { victimSubnetSynCount: subnetSyn } : {}),
    memory: {
      rssBefore: mb(before.rss), heapBefore: mb(before.heapUsed),
      peakRss: mb(Math.max(peakRss, maxRssKb * 1024)), peakHeapUsed: mb(peakHeap), peakArrayBuffers: mb(peakArrayBuffers),
      flowTableCapacity: capacity,
      flowTableBytesPerTrackedFlow: Math.round(bytesPerFlow),
      flowTableAtCap: mb(columnBytes),
    },
  };
  console.log(JSON.stringify(report, null, 2));
  const ok = victimSyn === SOURCES && victimPackets === SOURCES && ifaceSyn === SOURCES && maxTracked <= caps.maxFlows
    && (!scopes.includes('service') || serviceSyn === SOURCES) && (!scopes.includes('subnet') || subnetSyn === SOURCES);
  if (!ok) { console.error('FAIL: the victim record does not carry the flood, or the flow cap was exceeded'); process.exitCode = 1; }
  if (bytesPerFlow > 256) { console.error(`FAIL: the flow table takes ${Math.round(bytesPerFlow)} bytes per tracked flow (budget 256)`); process.exitCode = 1; }
  // past the host cap the victim's distinct sources are an estimate within 3 standard errors; below it exact
  const distinctOk = victimPeersFlag === 'estimate' ? victimPeersMaxRelError <= 3 * HLL_SE : victimPeersFlag === 'exact' && victimPeersMaxRelError === 0;
  if (!distinctOk) { console.error(`FAIL: the victim's distinct sources are ${victimPeersFlag}, off by up to ${(victimPeersMaxRelError * 100).toFixed(2)} %`); process.exitCode = 1; }
}

main();
