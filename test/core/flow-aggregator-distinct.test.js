'use strict';
/**
 * flow-aggregator: distinct counts past the host table's bound (issue 4: "exact up to a bound, then a
 * documented estimate such as HyperLogLog"). Packets are hand-built Ethernet/IPv4/TCP frames
 * (test/fixtures/capture-builder.js) decoded by the real PacketBatchBuilder and fed to the aggregator
 * as PacketBatches. Expected counts are those of the packets written here; an estimate must lie
 * within 3 standard errors, 3 · 1.04/√m · n with m = 4096 (Flajolet, Fusy, Gandouet, Meunier 2007).
 *
 * The aggregator draws its hash seeds from Math.random (so that chosen addresses cannot steer the
 * sketch); the tests construct it under a seeded Math.random so that each run is the same. The spread
 * of the estimate over seeds is tested in hyperloglog.test.js.
 */
const { expect } = require('chai');
const { eth, ipv4, tcp } = require('../fixtures/capture-builder');
const { PacketBatchBuilder } = require('../../dist/core/decoder');
const { FlowAggregator, AGGREGATOR_HLL_PRECISION, resolveAggregatorOptions } = require('../../dist/core/flow-aggregator');
const { assertWindowMessage } = require('../../dist/core/contracts');

const SYN = 0x02, ACK = 0x10, SYNACK = SYN | ACK;
const T0 = 1_700_000_000_000; // a multiple of the 10 s window
const SE = 1.04 / Math.sqrt(2 ** 12);

const { seededRandom } = require('../fixtures/seeded-math-random');

/** The i-th address of 10.128.0.0/10 (i < 4,194,304). */
const target = (i) => `10.${128 + (i >>> 16)}.${(i >>> 8) & 255}.${i & 255}`;

/**
 * Feeds packets to `agg` through a PacketBatchBuilder and returns the windows.
 * @param packets iterable of { t (ms), src, dst, sport, dport, flags }
 */
function feed(agg, packets) {
  const builder = new PacketBatchBuilder(4096);
  const windows = [];
  let last = T0;
  for (const p of packets) {
    const frame = eth(0x0800, ipv4({ src: p.src, dst: p.dst, payload: tcp({ sport: p.sport, dport: p.dport, flags: p.flags, seq: 1, ack: p.flags & ACK ? 1 : 0 }) }));
    builder.add(1, frame, frame.length, frame.length, p.t, 0);
    last = p.t;
    if (builder.full) windows.push(...agg.ingest(builder.flush('test.pcap', last, false)));
  }
  windows.push(...agg.ingest(builder.flush('test.pcap', last, true)));
  for (const w of windows) assertWindowMessage(w);
  return windows;
}

/** A client under the bound: 192.168.1.10 opens a connection to each of 5 servers, which answer. */
function* normalTraffic() {
  for (let k = 0; k < 5; k++) {
    const server = `192.168.1.${100 + k}`;
    yield { t: T0 + k, src: '192.168.1.10', dst: server, sport: 40000 + k, dport: 443, flags: SYN };
    yield { t: T0 + k + 0.5, src: server, dst: '192.168.1.10', sport: 443, dport: 40000 + k, flags: SYNACK };
  }
}

/** A scanner (default 10.99.0.1) sending one SYN to each of `n` distinct hosts of 10.128.0.0/10, port 445, from `t0` over `spanMs`. */
function* scan(n, scanner = '10.99.0.1', from = 0, t0 = T0 + 10, spanMs = 9000) {
  for (let i = 0; i < n; i++) yield { t: t0 + (i * spanMs) / n, src: scanner, dst: target(from + i), sport: 30000 + (i % 30000), dport: 445, flags: SYN };
}

function* concat(...gens) { for (const g of gens) yield* g; }

const byKey = (w) => new Map(w.records.map((r) => [r.key, r]));

describe('flow-aggregator: distinct counts past the bound (HyperLogLog)', function () {
  this.timeout(120000);

  it('documents p = 12 and 64 sketches per table by default; maxDistinctSketches is checked', function () {
    expect(AGGREGATOR_HLL_PRECISION).to.equal(12);
    expect(resolveAggregatorOptions().maxDistinctSketches).to.equal(64);
    expect(() => new FlowAggregator({ maxDistinctSketches: 256 })).to.throw(RangeError, /maxDistinctSketches/);
    expect(() => new FlowAggregator({ maxDistinctSketches: -1 })).to.throw(RangeError, /maxDistinctSketches/);
  });

  describe('a scanner contacting 200,000 distinct hosts in one window (default caps: 50,000 hosts per role)', function () {
    let w;
    before(function () {
      const agg = seededRandom(1, () => new FlowAggregator({ scopes: ['interface', 'dstHost', 'srcHost'] }));
      const windows = feed(agg, concat(normalTraffic(), scan(200_000)));
      expect(windows).to.have.length(1);
      w = windows[0];
    });

    it('reports the scanner\'s distinctPeers within 3 standard errors of 200,000, flagged estimate', function () {
      const scanner = byKey(w).get('src 10.99.0.1');
      expect(scanner.metrics.synCount, 'every SYN counts').to.equal(200_000);
      expect(scanner.distinctAccuracy).to.deep.equal({ distinctPeers: 'estimate' });
      expect(Math.abs(scanner.metrics.distinctPeers - 200_000), `estimate ${scanner.metrics.distinctPeers}`).to.be.at.most(3 * SE * 200_000);
    });

    it('reports the interface\'s distinct addresses (200,007) within 3 standard errors, flagged estimate', function () {
      const iface = w.records.find((r) => r.scope === 'interface');
      expect(iface.metrics.packets).to.equal(200_010);
      expect(iface.distinctAccuracy).to.deep.equal({ distinctPeers: 'estimate' });
      // scanner + 200,000 targets + client + 5 servers
      expect(Math.abs(iface.metrics.distinctPeers - 200_007)).to.be.at.most(3 * SE * 200_007);
    });

    it('keeps hosts under the bound exact and unflagged', function () {
      const r = byKey(w);
      const client = r.get('src 192.168.1.10');
      expect(client.metrics.distinctPeers).to.equal(5);
      expect(client.distinctAccuracy).to.equal(undefined);
      expect(r.get('dst 192.168.1.10').metrics.distinctPeers).to.equal(5);
      expect(r.get('dst 192.168.1.10').distinctAccuracy).to.equal(undefined);
      for (let k = 0; k < 5; k++) {
        expect(r.get(`dst 192.168.1.${100 + k}`).metrics.distinctPeers).to.equal(1);
        expect(r.get(`dst 192.168.1.${100 + k}`).distinctAccuracy).to.equal(undefined);
      }
      // the targets that got a record (the dst role's other 49,994 places) saw one peer each
      const targets = w.records.filter((x) => x.scope === 'dstHost' && x.key.startsWith('dst 10.'));
      expect(targets).to.have.length(50_000 - 6);
      expect(targets.every((x) => x.metrics.distinctPeers === 1 && x.distinctAccuracy === undefined)).to.equal(true);
    });
  });

  it('falls back to the lower bound when sketches are off (maxDistinctSketches 0)', function () {
    const agg = new FlowAggregator({ scopes: ['interface', 'srcHost'], maxHostsPerWindow: 1000, maxDistinctSketches: 0 });
    const w = feed(agg, concat(normalTraffic(), scan(5000)))[0];
    const scanner = byKey(w).get('src 10.99.0.1');
    // the dst role holds the 5 servers, the client and then 994 targets: the scanner's peers with a host id
    expect(scanner.metrics.distinctPeers).to.equal(1000 - 6);
    expect(scanner.distinctAccuracy).to.deep.equal({ distinctPeers: 'lower-bound' });
    expect(w.records.find((r) => r.scope === 'interface').distinctAccuracy).to.deep.equal({ distinctPeers: 'lower-bound' });
  });

  it('hands out sketches first come, first served; a key that overflows after the pool is used up is a lower bound', function () {
    // host cap 100 per role; scanner A sweeps 3,000 targets, then scanner B another 3,000; one sketch per table
    const agg = seededRandom(2, () => new FlowAggregator({ scopes: ['interface', 'srcHost'], maxHostsPerWindow: 100, maxDistinctSketches: 1 }));
    const windows = feed(agg, concat(scan(3000, '10.99.0.1', 0, T0, 4500), scan(3000, '10.99.0.2', 3000, T0 + 5000, 4500)));
    expect(windows).to.have.length(1);
    const w = windows[0];
    const a = byKey(w).get('src 10.99.0.1'), b = byKey(w).get('src 10.99.0.2');
    expect(a.distinctAccuracy).to.deep.equal({ distinctPeers: 'estimate' });
    expect(Math.abs(a.metrics.distinctPeers - 3000)).to.be.at.most(3 * SE * 3000);
    expect(b.distinctAccuracy).to.deep.equal({ distinctPeers: 'lower-bound' });
    expect(b.metrics.distinctPeers, 'none of B\'s targets got a host id').to.equal(0);
    // the interface has a sketch of its own: A, B and 6,000 targets
    const iface = w.records.find((r) => r.scope === 'interface');
    expect(iface.distinctAccuracy).to.deep.equal({ distinctPeers: 'estimate' });
    expect(Math.abs(iface.metrics.distinctPeers - 6002)).to.be.at.most(3 * SE * 6002);
  });

  it('starts every window exact again: sketches are per window', function () {
    const agg = seededRandom(3, () => new FlowAggregator({ scopes: ['interface', 'srcHost'], maxHostsPerWindow: 100 }));
    const next = function* () { for (const p of normalTraffic()) yield { ...p, t: p.t + 10_000 }; };
    const w = feed(agg, concat(scan(2000, '10.99.0.1', 0, T0), next()));
    expect(w).to.have.length(2);
    expect(byKey(w[0]).get('src 10.99.0.1').distinctAccuracy).to.deep.equal({ distinctPeers: 'estimate' });
    const second = byKey(w[1]);
    expect(second.get('src 192.168.1.10').metrics.distinctPeers).to.equal(5);
    expect(w[1].records.every((r) => r.distinctAccuracy === undefined)).to.equal(true);
  });

  it('estimates a spoofed flood\'s distinct sources on the victim, its service and its subnet records', function () {
    // 20,000 spoofed sources, one SYN each, to 10.10.10.10:80; host cap 1,000 per role
    const flood = function* () {
      for (let i = 0; i < 20_000; i++) yield { t: T0 + i * 0.4, src: `11.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, dst: '10.10.10.10', sport: 1024 + (i % 60000), dport: 80, flags: SYN };
    };
    const agg = seededRandom(4, () => new FlowAggregator({ scopes: ['interface', 'dstHost', 'srcHost', 'service', 'subnet'], maxHostsPerWindow: 1000 }));
    const w = feed(agg, flood())[0];
    const r = byKey(w);
    for (const key of ['dst 10.10.10.10', '10.10.10.10:80/tcp', 'dst 10.10.10.0/24']) {
      const rec = r.get(key);
      expect(rec, key).to.exist;
      expect(rec.metrics.synCount, key).to.equal(20_000);
      expect(rec.distinctAccuracy.distinctPeers, key).to.equal('estimate');
      expect(Math.abs(rec.metrics.distinctPeers - 20_000), `${key}: ${rec.metrics.distinctPeers}`).to.be.at.most(3 * SE * 20_000);
    }
    // the sources that got a record each sent to one peer: exact
    const sources = w.records.filter((x) => x.scope === 'srcHost');
    expect(sources).to.have.length(1000);
    expect(sources.every((x) => x.metrics.distinctPeers === 1 && x.distinctAccuracy === undefined)).to.equal(true);
  });
});
