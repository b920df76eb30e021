'use strict';
const { expect } = require('chai');
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const { generateLabeledTraffic, EVENT_KINDS, diurnalFactor } = require('../../dist/synth/labeled-traffic.js');
const { readCaptureFileSync } = require('../../dist/core/replay.js');
const { formatAddress } = require('../../dist/core/contracts.js');

const MIN = 60_000;
let haveCapinfos = false;
try { execFileSync('capinfos', ['-h'], { stdio: 'ignore' }); haveCapinfos = true; } catch { /* optional */ }

describe('labeled traffic generator (src/synth/labeled-traffic.ts)', function () {
  this.timeout(60_000);
  let dir;
  // a short day: 40 min, three events, a third of the background rate
  const small = { durationMs: 40 * MIN, warmupMs: 8 * MIN, backgroundScale: 0.3, kinds: ['syn-flood', 'vertical-scan', 'nightly-backup'] };
  let a;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labeled-'));
    a = generateLabeledTraffic(path.join(dir, 'a.pcap'), path.join(dir, 'a.json'), { seed: 7, ...small });
  });
  after(function () { fs.rmSync(dir, { recursive: true, force: true }); });

  const sha = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

  it('writes the same bytes for the same seed and different ones for another seed', function () {
    const b = generateLabeledTraffic(path.join(dir, 'b.pcap'), path.join(dir, 'b.json'), { seed: 7, ...small });
    const c = generateLabeledTraffic(path.join(dir, 'c.pcap'), path.join(dir, 'c.json'), { seed: 8, ...small });
    expect(sha(b.pcapPath)).to.equal(sha(a.pcapPath));
    expect(fs.readFileSync(b.truthPath, 'utf8')).to.equal(fs.readFileSync(a.truthPath, 'utf8'));
    expect(sha(c.pcapPath)).to.not.equal(sha(a.pcapPath));
  });

  it('the ground truth file is what the call returned, and its packet count is what capinfos counts', function () {
    const onDisk = JSON.parse(fs.readFileSync(a.truthPath, 'utf8'));
    expect(onDisk).to.deep.equal(a.truth);
    expect(onDisk.events.map((e) => e.kind)).to.deep.equal(['vertical-scan', 'syn-flood', 'nightly-backup'].sort((x, y) => EVENT_KINDS.indexOf(x) - EVENT_KINDS.indexOf(y)));
    if (haveCapinfos) {
      const out = execFileSync('capinfos', ['-M', '-c', a.pcapPath], { encoding: 'utf8' });
      expect(Number(/Number of packets:\s+(\d+)/.exec(out)[1])).to.equal(a.truth.packets);
    }
  });

  describe('ground truth against the decoded packets', function () {
    let pk;
    before(function () {
      const { batches, summary } = readCaptureFileSync(a.pcapPath);
      expect(summary.error ?? null).to.equal(null);
      pk = [];
      for (const b of batches) {
        for (let i = 0; i < b.count; i++) {
          pk.push({ t: b.timeMs[i], src: formatAddress(b.srcAddr, i * 16), dst: formatAddress(b.dstAddr, i * 16), proto: b.protocol[i], sport: b.srcPort[i], dport: b.dstPort[i], flags: b.tcpFlags[i], wire: b.wireLength[i] });
        }
      }
    });

    it('decodes every packet written, in time order, all within [startMs, endMs)', function () {
      expect(pk.length).to.equal(a.truth.packets);
      for (let i = 1; i < pk.length; i++) if (pk[i].t < pk[i - 1].t) throw new Error(`packet ${i} goes back in time`);
      expect(pk[0].t).to.be.at.least(a.truth.startMs);
      expect(pk[pk.length - 1].t).to.be.below(a.truth.endMs);
    });

    it('syn-flood: every SYN to the victim from outside the known hosts falls in the event window, and there are as many as the event says', function () {
      const e = a.truth.events.find((x) => x.kind === 'syn-flood');
      const known = new Set([...a.truth.network.clients, ...Object.values(a.truth.network.servers), ...a.truth.network.externalServers]);
      const victim = e.hosts[0];
      const syns = pk.filter((p) => p.proto === 6 && (p.flags & 0x12) === 0x02 && p.dst === victim && !known.has(p.src));
      expect(syns.length).to.equal(e.packets);
      expect(Math.min(...syns.map((p) => p.t))).to.equal(e.startMs);
      expect(Math.max(...syns.map((p) => p.t))).to.equal(e.endMs);
      // ~synPerSecond for 60 s (gaps are uniform in [0.5, 1.5] × 1/rate: mean rate as set)
      const perSecond = syns.length / ((e.endMs - e.startMs) / 1000);
      expect(perSecond).to.be.within(e.params.synPerSecond * 0.9, e.params.synPerSecond * 1.1);
      expect(new Set(syns.map((p) => p.src)).size, 'spoofed: (nearly) every SYN from its own source').to.be.above(syns.length * 0.95);
      expect(e.alertKeys).to.deep.equal([`dst ${victim}`]);
    });

    it('vertical-scan: the scanner sends one SYN to each of ports 1–1024 of the target, inside the event window only', function () {
      const e = a.truth.events.find((x) => x.kind === 'vertical-scan');
      const [scanner, target] = e.hosts;
      const syns = pk.filter((p) => p.proto === 6 && (p.flags & 0x12) === 0x02 && p.src === scanner && p.dst === target && p.sport === 51515);
      expect(syns.length).to.equal(1024);
      expect(new Set(syns.map((p) => p.dport)).size).to.equal(1024);
      expect(Math.min(...syns.map((p) => p.dport))).to.equal(1);
      expect(Math.max(...syns.map((p) => p.dport))).to.equal(1024);
      for (const p of syns) expect(p.t).to.be.within(e.startMs, e.endMs);
      expect(e.alertKeys).to.deep.equal([`src ${scanner}`]);
    });

    it('nightly-backup: the uploads to the backup server carry about the rate the truth states', function () {
      const e = a.truth.events.find((x) => x.kind === 'nightly-backup');
      const server = e.hosts[0];
      const up = pk.filter((p) => p.dst === server && p.dport === 22 && p.t >= e.startMs && p.t <= e.endMs);
      const bits = up.reduce((s, p) => s + p.wire * 8, 0);
      const expected = e.params.clients * e.params.bitsPerSecondPerClient * (e.endMs - e.startMs) / 1000;
      // payload rate as set, plus Ethernet/IP/TCP headers (54 of 1,502 bytes): within 15 %
      expect(bits).to.be.within(expected * 0.85, expected * 1.15);
      expect(e.malicious).to.equal(false);
    });

    it('carries IPv6 background and DNS', function () {
      expect(pk.some((p) => p.src.includes(':') && p.proto === 6)).to.equal(true);
      expect(pk.filter((p) => p.proto === 17 && p.dport === 53).length).to.be.above(50);
    });
  });

  it('attackScale scales the volume attacks and keeps the schedule, the victims and the scans', function () {
    const s = generateLabeledTraffic(path.join(dir, 's.pcap'), path.join(dir, 's.json'), { seed: 7, ...small, attackScale: 0.6 });
    const full = Object.fromEntries(a.truth.events.map((e) => [e.kind, e]));
    const part = Object.fromEntries(s.truth.events.map((e) => [e.kind, e]));
    expect(s.truth.attackScale).to.equal(0.6);
    expect(part['syn-flood'].params.synPerSecond).to.equal(Math.round(full['syn-flood'].params.synPerSecond * 0.6));
    expect(part['syn-flood'].packets / full['syn-flood'].packets).to.be.within(0.5, 0.7);
    expect(part['syn-flood'].hosts).to.deep.equal(full['syn-flood'].hosts);
    expect(Math.abs(part['syn-flood'].startMs - full['syn-flood'].startMs)).to.be.below(1000);
    expect(part['vertical-scan'].hosts).to.deep.equal(full['vertical-scan'].hosts);
    expect(part['vertical-scan'].params.ports).to.equal(1024);
    expect(() => generateLabeledTraffic(path.join(dir, 'y.pcap'), path.join(dir, 'y.json'), { ...small, attackScale: 0 })).to.throw(RangeError, /attackScale/);
  });

  it('the diurnal factor is 0.12 at night, 1 in the day and rises in between', function () {
    expect(diurnalFactor(3)).to.be.closeTo(0.12, 1e-9);
    expect(diurnalFactor(12)).to.be.closeTo(1, 1e-9);
    expect(diurnalFactor(22)).to.be.closeTo(0.12, 1e-9);
    expect(diurnalFactor(7)).to.be.within(0.12, 1);
    expect(diurnalFactor(7.5)).to.be.above(diurnalFactor(6.5));
  });

  it('rejects options out of range and events that do not fit', function () {
    const p = path.join(dir, 'x.pcap'), j = path.join(dir, 'x.json');
    expect(() => generateLabeledTraffic(p, j, { durationMs: 60_000 })).to.throw(RangeError, /durationMs/);
    expect(() => generateLabeledTraffic(p, j, { durationMs: 30 * MIN })).to.throw(RangeError, /events need/);
    expect(() => generateLabeledTraffic(p, j, { kinds: ['teleport'] })).to.throw(RangeError, /unknown event kind/);
    expect(() => generateLabeledTraffic(p, j, { clients: 2 })).to.throw(RangeError, /clients/);
  });
});
