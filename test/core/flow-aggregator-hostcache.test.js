'use strict';
/**
 * The per-packet shortcut of the aggregator: a flow's later packets in a window reuse the host ids
 * cached on the flow by its first packet of that window (no host lookups, no distinct-set updates).
 * These cases are where a stale or wrong cache would count packets on the wrong hosts: host ids that
 * differ between windows, flow slots reused after an eviction in the middle of a window, and flows
 * whose first packet found a host role full. Expected values are counted by hand from the packets.
 */
const { expect } = require('chai');
const { FlowAggregator } = require('../../dist/core/flow-aggregator');
const { IPPROTO, TCP_FLAG, assertWindowMessage } = require('../../dist/core/contracts');

/** 16 address bytes of a dotted IPv4 address (as ::ffff:a.b.c.d, RFC 4291 §2.5.5.2). */
function v4(text) {
  const out = new Uint8Array(16);
  out[10] = 0xff; out[11] = 0xff;
  text.split('.').forEach((p, i) => { out[12 + i] = Number(p); });
  return out;
}

/** A PacketBatch of TCP ACK segments from { t, src, dst, sp, dp, len }. */
function makeBatch(packets) {
  const n = packets.length;
  const b = {
    kind: 'netbaseline/packets', version: 1, source: '/captures/hostcache.pcap', seq: 0, count: n,
    timeMs: new Float64Array(n), wireLength: new Uint32Array(n), ipVersion: new Uint8Array(n),
    srcAddr: new Uint8Array(16 * n), dstAddr: new Uint8Array(16 * n), protocol: new Uint8Array(n),
    srcPort: new Uint16Array(n), dstPort: new Uint16Array(n), tcpFlags: new Uint8Array(n),
    tcpSeq: new Uint32Array(n), tcpAck: new Uint32Array(n), payloadLength: new Uint32Array(n),
    info: new Uint8Array(n), ifIndex: new Uint16Array(n),
    clockMs: n ? packets[n - 1].t : 0,
    counters: { packetsRead: n, packetsDecoded: n, nonIp: 0, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 0 },
    final: false,
  };
  packets.forEach((p, i) => {
    b.timeMs[i] = p.t;
    b.wireLength[i] = p.len || 100;
    b.ipVersion[i] = 4;
    b.srcAddr.set(v4(p.src), 16 * i);
    b.dstAddr.set(v4(p.dst), 16 * i);
    b.protocol[i] = IPPROTO.TCP;
    b.srcPort[i] = p.sp;
    b.dstPort[i] = p.dp;
    b.tcpFlags[i] = TCP_FLAG.ACK;
    b.payloadLength[i] = 20;
  });
  return b;
}

const T0 = 1_700_000_000_000; // a multiple of 10 000 ms
const A = '10.0.0.1', B = '10.0.0.2', C = '10.0.0.3', D = '10.0.0.4', E = '10.0.0.5', F = '10.0.0.6';
const ab = (t, len) => ({ t, src: A, dst: B, sp: 1000, dp: 80, len });
const cd = (t, len) => ({ t, src: C, dst: D, sp: 2000, dp: 443, len });
const metricsOf = (w, key) => {
  const r = w.records.find((x) => x.key === key);
  expect(r, key).to.exist;
  return r.metrics;
};

describe('FlowAggregator: host ids cached on flows', function () {
  it('counts a flow\'s later packets on its own hosts when the host ids differ from the previous window', function () {
    const agg = new FlowAggregator();
    // window 1: A, B interned first; window 2: C, D, E, F first, then A → B (other host ids than in window 1)
    const w1 = agg.ingest(makeBatch([ab(T0 + 1, 100), ab(T0 + 2, 100), cd(T0 + 3, 100)]));
    expect(w1).to.have.length(0);
    const t = T0 + 10_000;
    const out = [
      ...agg.ingest(makeBatch([
        cd(t + 1, 50), { t: t + 2, src: E, dst: F, sp: 3000, dp: 22, len: 70 },
        ab(t + 3, 100), ab(t + 4, 200), ab(t + 5, 300), cd(t + 6, 50),
      ])),
      ...agg.flush(),
    ];
    expect(out).to.have.length(2);
    const w2 = out[1];
    assertWindowMessage(w2);
    expect(w2.windowStart).to.equal(t);
    const srcA = metricsOf(w2, `src ${A}`), dstB = metricsOf(w2, `dst ${B}`);
    expect([srcA.packets, srcA.bytes, dstB.packets, dstB.bytes]).to.deep.equal([3, 600, 3, 600]);
    expect([srcA.distinctPeers, srcA.distinctDstPorts, dstB.distinctPeers, dstB.distinctDstPorts]).to.deep.equal([1, 1, 1, 1]);
    const srcC = metricsOf(w2, `src ${C}`), dstD = metricsOf(w2, `dst ${D}`);
    expect([srcC.packets, srcC.bytes, dstD.packets, dstD.bytes]).to.deep.equal([2, 100, 2, 100]);
    const srcE = metricsOf(w2, `src ${E}`), dstF = metricsOf(w2, `dst ${F}`);
    expect([srcE.packets, srcE.bytes, dstF.packets, dstF.bytes]).to.deep.equal([1, 70, 1, 70]);
    // no packet landed on a host that is not its own: A and B are only a source / a destination
    expect(w2.records.find((r) => r.key === `dst ${A}` || r.key === `src ${B}`)).to.equal(undefined);
    const flowAB = w2.records.find((r) => r.scope === 'flow' && r.srcIp === A);
    expect(flowAB.metrics.packets).to.equal(3);
    expect(flowAB.dstIp).to.equal(B);
  });

  it('counts every packet on its own hosts when flows are evicted and re-created within a window (maxFlows 1)', function () {
    const agg = new FlowAggregator({ maxFlows: 1 });
    // each packet evicts the other flow; the new flow takes the freed slot
    const packets = [ab(T0 + 1, 100), cd(T0 + 2, 10), ab(T0 + 3, 100), cd(T0 + 4, 10), ab(T0 + 5, 100), ab(T0 + 6, 100)];
    const out = [...agg.ingest(makeBatch(packets)), ...agg.flush()];
    expect(out).to.have.length(1);
    const w = out[0];
    expect(w.counters.flowEvictions).to.equal(4);
    const srcA = metricsOf(w, `src ${A}`), dstB = metricsOf(w, `dst ${B}`);
    const srcC = metricsOf(w, `src ${C}`), dstD = metricsOf(w, `dst ${D}`);
    expect([srcA.packets, srcA.bytes, dstB.packets, dstB.bytes]).to.deep.equal([4, 400, 4, 400]);
    expect([srcC.packets, srcC.bytes, dstD.packets, dstD.bytes]).to.deep.equal([2, 20, 2, 20]);
    expect([srcA.distinctPeers, dstB.distinctPeers, srcC.distinctPeers, dstD.distinctPeers]).to.deep.equal([1, 1, 1, 1]);
    // each (re-)created flow is a new flow on its hosts: A→B three times, C→D twice
    expect([srcA.newFlows, dstB.newFlows, srcC.newFlows, dstD.newFlows]).to.deep.equal([3, 3, 2, 2]);
    const iface = w.records.find((r) => r.scope === 'interface').metrics;
    expect([iface.packets, iface.distinctPeers]).to.deep.equal([6, 4]);
  });

  it('keeps refusing a host a full role refused at the flow\'s first packet (maxHostsPerWindow 1)', function () {
    const agg = new FlowAggregator({ maxHostsPerWindow: 1 });
    // A gets the one source record and B the one destination record; C (source) and D (destination) are refused
    const packets = [
      ab(T0 + 1, 100),
      { t: T0 + 2, src: C, dst: B, sp: 2000, dp: 80, len: 10 }, { t: T0 + 3, src: C, dst: B, sp: 2000, dp: 80, len: 10 },
      { t: T0 + 4, src: C, dst: B, sp: 2000, dp: 80, len: 10 },
      { t: T0 + 5, src: A, dst: D, sp: 1001, dp: 443, len: 1 }, { t: T0 + 6, src: A, dst: D, sp: 1001, dp: 443, len: 1 },
    ];
    const out = [...agg.ingest(makeBatch(packets)), ...agg.flush()];
    const w = out[0];
    expect(w.records.filter((r) => r.scope === 'srcHost').map((r) => r.key)).to.deep.equal([`src ${A}`]);
    expect(w.records.filter((r) => r.scope === 'dstHost').map((r) => r.key)).to.deep.equal([`dst ${B}`]);
    const srcA = metricsOf(w, `src ${A}`), dstB = metricsOf(w, `dst ${B}`);
    expect([srcA.packets, srcA.bytes]).to.deep.equal([3, 102]);
    expect([dstB.packets, dstB.bytes]).to.deep.equal([4, 130]);
    expect([srcA.distinctDstPorts, dstB.distinctDstPorts]).to.deep.equal([2, 1]);
    // one refusal per packet and refused role: C three times as a source, D twice as a destination
    expect(w.counters.hostEvictions).to.equal(5);
  });
});
