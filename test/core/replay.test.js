'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { expect } = require('chai');
const { replayCaptureFile, readCaptureFileSync, resolveCapturePath, parseSpeed } = require('../../dist/core/replay.js');
const { packetAt, assertPacketBatch } = require('../../dist/core/contracts.js');
const B = require('../fixtures/capture-builder.js');
const P = require('../fixtures/pcaps.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-test-'));
after(function () { fs.rmSync(tmp, { recursive: true, force: true }); });

function writeTmp(name, bytes) {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, bytes);
  return f;
}

/** A UDP packet from 10.0.0.1:sport to 10.0.0.2:53. */
const udpFrame = (sport) => B.eth(0x0800, B.ipv4({ proto: 17, payload: B.udp({ sport, dport: 53 }) }));

async function collect(file, options = {}) {
  const batches = [];
  const progress = [];
  const summary = await replayCaptureFile(file, { ...options, onBatch: (b, p) => { assertPacketBatch(b); batches.push(b); progress.push(p); } });
  return { batches, progress, summary };
}

describe('replay: hand-built files', function () {
  it('delivers batches of batchSize packets, the last one final', async function () {
    const recs = [];
    for (let i = 0; i < 11; i++) recs.push({ sec: 100 + i, data: udpFrame(1000 + i) });
    const file = writeTmp('ten.pcap', B.pcapFile({}, recs));
    const { batches, summary } = await collect(file, { batchSize: 5 });
    expect(batches.map((b) => [b.seq, b.count, b.final])).to.deep.equal([[0, 5, false], [1, 5, false], [2, 1, true]]);
    expect(batches.map((b) => b.clockMs)).to.deep.equal([104000, 109000, 110000]);
    expect(packetAt(batches[1], 4)).to.include({ srcPort: 1009, timeMs: 109000 });
    expect(batches[0].source).to.equal(file);
    expect(summary).to.include({ packetsRead: 11, firstPacketMs: 100000, lastPacketMs: 110000, truncated: false, aborted: false, fileSize: fs.statSync(file).size, bytesRead: fs.statSync(file).size });
    expect(summary.error).to.equal(undefined);
  });

  it('an empty capture (header only) gives one final empty batch and no error', async function () {
    const file = writeTmp('empty.pcap', B.pcapFile({}, []));
    const { batches, summary } = await collect(file);
    expect(batches.map((b) => [b.count, b.final])).to.deep.equal([[0, true]]);
    expect(summary).to.include({ packetsRead: 0, firstPacketMs: null, truncated: false });
    expect(summary.error).to.equal(undefined);
  });

  it('a missing file rejects naming the path', async function () {
    const missing = path.join(tmp, 'nope.pcap');
    let err;
    try { await collect(missing); } catch (e) { err = e; }
    expect(err).to.be.an('error');
    expect(err.message).to.include(`cannot read capture file "${missing}"`);
  });

  it('a file that is not a capture resolves with an error naming the path, after a final empty batch', async function () {
    const file = writeTmp('notes.txt', Buffer.from('hello world, not a capture'));
    const { batches, summary } = await collect(file);
    expect(summary.error).to.equal(`${file}: not a pcap or pcapng file (magic 0x68656c6c)`);
    expect(batches.map((b) => [b.count, b.final])).to.deep.equal([[0, true]]);
  });

  it('a truncated file: warning through onWarning, packets kept', async function () {
    const full = B.pcapFile({}, [{ sec: 1, data: udpFrame(1) }, { sec: 2, data: udpFrame(2) }]);
    const file = writeTmp('cut.pcap', full.subarray(0, full.length - 1));
    const warnings = [];
    const { batches, summary } = await collect(file, { onWarning: (m) => warnings.push(m) });
    expect(batches.reduce((n, b) => n + b.count, 0)).to.equal(1);
    expect(summary.truncated).to.equal(true);
    expect(warnings).to.deep.equal([`capture truncated at byte ${24 + 16 + udpFrame(1).length}: last record incomplete`]);
    expect(summary.warnings).to.deep.equal(warnings);
  });

  it('realtime / ×N pacing delivers the packets due so far before each wait', async function () {
    // three packets 2 s apart at ×10: each waits 200 ms, so each is delivered in its own batch
    const file = writeTmp('paced.pcap', B.pcapFile({}, [
      { sec: 1, data: udpFrame(1) }, { sec: 3, data: udpFrame(2) }, { sec: 5, data: udpFrame(3) },
    ]));
    const { batches } = await collect(file, { speed: 10 });
    expect(batches.filter((b) => b.count > 0).map((b) => b.count)).to.deep.equal([1, 1, 1]);
    const max = await collect(file, { speed: 'max' });
    expect(max.batches.map((b) => b.count)).to.deep.equal([3]);
  });

  it('abort during a realtime wait stops the replay: final batch, aborted summary, no more packets', async function () {
    // the second packet is an hour after the first
    const file = writeTmp('gap.pcap', B.pcapFile({}, [{ sec: 1, data: udpFrame(1) }, { sec: 3601, data: udpFrame(2) }, { sec: 3602, data: udpFrame(3) }]));
    const ac = new AbortController();
    const batches = [];
    const summary = await replayCaptureFile(file, {
      speed: 'realtime',
      signal: ac.signal,
      onBatch: (b) => { batches.push(b); if (b.count > 0) setTimeout(() => ac.abort(), 20); },
    });
    expect(summary.aborted).to.equal(true);
    expect(batches.map((b) => [b.count, b.final])).to.deep.equal([[1, false], [0, true]]);
  });

  it('resolveCapturePath: absolute as is, relative in the given directories in order, clear error otherwise', function () {
    const file = writeTmp('here.pcap', B.pcapFile({}, []));
    expect(resolveCapturePath(file, [])).to.equal(file);
    expect(resolveCapturePath('here.pcap', ['/nonexistent', tmp])).to.equal(file);
    expect(() => resolveCapturePath('gone.pcap', ['/a', tmp])).to.throw(`capture file not found: "gone.pcap" (looked in /a/gone.pcap, ${path.join(tmp, 'gone.pcap')})`);
    expect(() => resolveCapturePath('', [tmp])).to.throw(/no capture file given/);
  });

  it('parseSpeed', function () {
    expect([parseSpeed(undefined), parseSpeed('max'), parseSpeed('realtime'), parseSpeed('10'), parseSpeed(0.5), parseSpeed('x4')]).to.deep.equal(['max', 'max', 'realtime', 10, 0.5, 4]);
    expect(() => parseSpeed('fast')).to.throw(/speed must be/);
    expect(() => parseSpeed(-1)).to.throw(/speed must be/);
  });
});

describe('replay: shared captures', function () {
  before(function () {
    if (!P.havePcaps()) { console.log(`    (skipped: ${P.PCAP_DIR} is missing)`); this.skip(); }
  });

  it('async replay equals the synchronous reader, packet for packet (pcap and pcapng)', async function () {
    for (const name of ['wireshark__pcapng-example.pcapng', 'pcaphunt__ps-udp.pcap', 'ndpi__sites.pcapng']) {
      const file = P.pcapPath(name);
      const a = await collect(file, { batchSize: 100 });
      const s = readCaptureFileSync(file, 100);
      expect(a.batches.length, name).to.equal(s.batches.length);
      a.batches.forEach((b, i) => {
        expect(b.count).to.equal(s.batches[i].count);
        expect(Buffer.from(b.srcAddr.buffer, b.srcAddr.byteOffset, b.srcAddr.byteLength).equals(Buffer.from(s.batches[i].srcAddr))).to.equal(true);
        expect(Array.from(b.timeMs)).to.deep.equal(Array.from(s.batches[i].timeMs));
      });
      const { packetsRead } = a.summary;
      expect(packetsRead).to.equal(P.expectedPacketCount(name).count);
      expect(a.summary.counters).to.deep.equal(s.summary.counters);
    }
  });

  it('the largest capture (2.7 MB, truncated): timers run during the replay, progress reaches the end', async function () {
    const name = 'suricata-verify__http-mime-truncated.pcap';
    let ticksDuringReplay = 0;
    let replayRunning = true;
    const timer = setInterval(() => { if (replayRunning) ticksDuringReplay++; }, 0);
    const { batches, progress, summary } = await collect(P.pcapPath(name), { batchSize: 256 });
    replayRunning = false;
    clearInterval(timer);
    expect(batches.length).to.be.above(10);
    expect(ticksDuringReplay, 'setInterval callbacks while the replay ran').to.be.above(0);
    expect(batches.reduce((n, b) => n + b.count, 0)).to.equal(2696);
    expect(summary.truncated).to.equal(true);
    const last = progress[progress.length - 1];
    expect(last.packetsRead).to.equal(2696);
    expect(last.bytesParsed).to.be.at.most(summary.fileSize);
    for (let i = 1; i < progress.length; i++) expect(progress[i].bytesParsed).to.be.at.least(progress[i - 1].bytesParsed);
  });
});

describe('replay: timestamp policy and what the windows downstream make of it', function () {
  const { FlowAggregator } = require('../../dist/core/flow-aggregator.js');
  const { ReplayGate, sumReplaySummaries, listCaptureFolder, TIME_JUMP_MS } = require('../../dist/core/replay.js');
  before(function () {
    if (!P.havePcaps() || !P.HAVE_TSHARK) { console.log('    (skipped: shared captures or tshark missing)'); this.skip(); }
  });

  /**
   * Windows flow-aggregator should emit for packet times `ms` (after the clamp: running maximum),
   * derived from its documented rule: every 10 s window with a packet, plus at most 30 empty windows
   * per gap, the next window after a longer gap flagged with gapBeforeMs.
   */
  function expectedWindows(ms, windowMs = 10000, maxEmpty = 30) {
    const idx = [...new Set(ms.map((t) => Math.floor(t / windowMs)))];
    let empty = 0; let gaps = 0;
    for (let i = 1; i < idx.length; i++) {
      const k = idx[i] - idx[i - 1] - 1;
      empty += Math.min(k, maxEmpty);
      if (k > maxEmpty) gaps++;
    }
    return { occupied: idx.length, empty, gaps };
  }

  for (const name of ['ndpi__sites.pcapng', 'ndpi__openvpn.pcap']) {
    it(`${name}: pcap-source → flow-aggregator emits the windows its bridging rule predicts from tshark's times; nothing is lost`, function () {
      let max = -Infinity;
      const ms = P.tshark(name, ['-T', 'fields', '-e', 'frame.time_epoch']).map((t) => { max = Math.max(max, Number(t) * 1000); return max; });
      const exp = expectedWindows(ms);
      const { batches } = readCaptureFileSync(P.pcapPath(name), 100);
      const agg = new FlowAggregator({ windowMs: 10000 });
      const windows = batches.flatMap((b) => agg.ingest(b));
      const packets = windows.reduce((n, w) => n + w.records.filter((r) => r.scope === 'interface').reduce((m, r) => m + r.metrics.packets, 0), 0);
      expect(packets, 'every packet lands in a window').to.equal(ms.length);
      const nonEmpty = windows.filter((w) => w.records.some((r) => r.scope === 'interface' && r.metrics.packets > 0));
      expect(nonEmpty).to.have.length(exp.occupied);
      expect(windows.length - nonEmpty.length, 'empty windows bridging the gaps').to.equal(exp.empty);
      expect(windows.filter((w) => w.gapBeforeMs > 0), 'windows after a gap longer than 30 windows').to.have.length(exp.gaps);
      for (let i = 1; i < windows.length; i++) expect(windows[i].windowStart).to.be.above(windows[i - 1].windowStart);
    });
  }

  it('TIME_JUMP_MS is one hour; sumReplaySummaries adds counters and keeps the extremes', function () {
    expect(TIME_JUMP_MS).to.equal(3600000);
    const base = { counters: { packetsRead: 2, packetsDecoded: 1, nonIp: 1, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 1 }, bytesRead: 10, fileSize: 10, truncated: false, aborted: false, warnings: [], timeJumps: 1, largestTimeStepMs: 5 };
    const t = sumReplaySummaries('/d', [
      { ...base, path: '/d/a.pcap', packetsRead: 2, firstPacketMs: 50, lastPacketMs: 60, warnings: ['w1'] },
      { ...base, path: '/d/b.pcap', packetsRead: 2, firstPacketMs: 10, lastPacketMs: 20, truncated: true, largestTimeStepMs: 9, error: '/d/b.pcap: bad' },
    ]);
    expect(t).to.deep.include({ path: '/d', packetsRead: 4, firstPacketMs: 10, lastPacketMs: 60, bytesRead: 20, truncated: true, aborted: false, timeJumps: 2, largestTimeStepMs: 9, warnings: ['a.pcap: w1'], error: '/d/b.pcap: bad' });
    // counters of an older producer (no timeEpochs / firstFragments) are read as 0
    expect(t.counters).to.deep.equal({ packetsRead: 4, packetsDecoded: 2, nonIp: 2, unsupportedLinkType: 0, malformed: 0, fragments: 0, timeClamped: 2, timeEpochs: 0, firstFragments: 0 });
    const u = sumReplaySummaries('/d', [
      { ...base, path: '/d/a.pcap', packetsRead: 2, firstPacketMs: 1, lastPacketMs: 2, timeEpochs: 1, counters: { ...base.counters, timeEpochs: 1, firstFragments: 3 }, linkTypes: [1], unsupportedLinkTypes: [] },
      { ...base, path: '/d/b.pcap', packetsRead: 2, firstPacketMs: 1, lastPacketMs: 2, timeEpochs: 2, counters: { ...base.counters, timeEpochs: 2, firstFragments: 0 }, linkTypes: [147, 1], unsupportedLinkTypes: [147] },
    ]);
    expect(u).to.deep.include({ timeEpochs: 3, linkTypes: [1, 147], unsupportedLinkTypes: [147] });
    expect(u.counters).to.include({ timeEpochs: 3, firstFragments: 3 });
  });

  it('ReplayGate: a replay at max speed paused after its first batch holds there and resumes to the end', async function () {
    const recs = [];
    for (let i = 0; i < 50; i++) recs.push({ sec: 100 + i, data: udpFrame(2000 + i) });
    const file = writeTmp('gate.pcap', B.pcapFile({}, recs));
    const gate = new ReplayGate();
    const batches = [];
    const done = replayCaptureFile(file, { batchSize: 5, gate, onBatch: (b) => { batches.push(b); if (batches.length === 1) gate.pause(); } });
    await new Promise((r) => setTimeout(r, 100));
    expect(batches.length, 'held after the first batch').to.equal(1);
    expect(gate.paused).to.equal(true);
    gate.resume();
    const summary = await done;
    expect(summary.packetsRead).to.equal(50);
    const ports = batches.flatMap((b) => Array.from({ length: b.count }, (_, i) => packetAt(b, i).srcPort));
    expect(ports).to.deep.equal(Array.from({ length: 50 }, (_, i) => 2000 + i));
  });

  it('listCaptureFolder: time order of the first packets, captures without packets last, non-captures skipped', async function () {
    const dir = fs.mkdtempSync(path.join(tmp, 'folder-'));
    fs.writeFileSync(path.join(dir, 'a-late.pcap'), B.pcapFile({}, [{ sec: 300, data: udpFrame(1) }]));
    fs.writeFileSync(path.join(dir, 'b-empty.pcap'), B.pcapFile({}, []));
    fs.writeFileSync(path.join(dir, 'c-early.pcap'), B.pcapFile({}, [{ sec: 100, data: udpFrame(1) }, { sec: 900, data: udpFrame(1) }]));
    fs.writeFileSync(path.join(dir, 'd-text.pcap'), 'hello');
    const { captures, skipped } = await listCaptureFolder(dir);
    expect(captures.map((c) => [path.basename(c.file), c.firstPacketMs])).to.deep.equal([['c-early.pcap', 100000], ['a-late.pcap', 300000], ['b-empty.pcap', null]]);
    expect(skipped.map((s) => path.basename(s.file))).to.deep.equal(['d-text.pcap']);
    expect(skipped[0].reason).to.match(/d-text\.pcap: not a pcap or pcapng file/);
  });
});

describe('replay: time epochs (a clock stepped back by more than a minute)', function () {
  const T = 1_700_000_000;
  const DAY = 86400;
  /** 4 packets, then the clock steps back a day, then 3 packets; source port = packet number. */
  const epochFile = () => writeTmp('epoch.pcap', B.pcapFile({}, [
    ...[0, 1, 2, 3].map((i) => ({ sec: T + i, data: udpFrame(100 + i) })),
    ...[0, 1, 2].map((i) => ({ sec: T - DAY + i, data: udpFrame(200 + i) })),
  ]));
  const expectedTimes = [...[0, 1, 2, 3].map((i) => (T + i) * 1000), ...[0, 1, 2].map((i) => (T - DAY + i) * 1000)];

  /** Splits batches into runs at each final batch. */
  const runsOf = (batches) => {
    const runs = [[]];
    for (const b of batches) { runs[runs.length - 1].push(b); if (b.final) runs.push([]); }
    runs.pop();
    return runs.map((r) => r.flatMap((b) => Array.from({ length: b.count }, (_, i) => packetAt(b, i))));
  };

  for (const batchSize of [1, 3, 4, 100]) {
    it(`batch size ${batchSize}: the epoch ends with a final batch, the times after it are kept (not clamped), counted in counters.timeEpochs and summary.timeEpochs`, async function () {
      const { batches, summary } = await collect(epochFile(), { batchSize });
      const runs = runsOf(batches);
      expect(runs.map((r) => r.map((p) => p.srcPort))).to.deep.equal([[100, 101, 102, 103], [200, 201, 202]]);
      expect(runs.flat().map((p) => p.timeMs)).to.deep.equal(expectedTimes);
      expect(batches.map((b) => b.seq)).to.deep.equal(batches.map((_, i) => i)); // seq goes on across epochs
      const finals = batches.filter((b) => b.final);
      expect(finals.map((b) => b.counters.timeEpochs), 'the batch ending the epoch already counts it').to.deep.equal([1, 1]);
      expect(batches[0].counters.timeEpochs, 'a batch before the step').to.equal(batchSize >= 4 ? 1 : 0);
      expect(summary).to.include({ timeEpochs: 1, packetsRead: 7 });
      expect(summary.counters).to.include({ timeEpochs: 1, timeClamped: 0 });
      const sync = readCaptureFileSync(epochFile(), batchSize);
      expect(runsOf(sync.batches).map((r) => r.map((p) => p.timeMs))).to.deep.equal(runsOf(batches).map((r) => r.map((p) => p.timeMs)));
      expect(sync.summary.timeEpochs).to.equal(1);
    });
  }

  it('a paced replay (×1000) starts pacing again at the new epoch and delivers every packet once', async function () {
    const { batches, summary } = await collect(epochFile(), { speed: 1000, batchSize: 2 });
    expect(runsOf(batches).map((r) => r.map((p) => p.srcPort))).to.deep.equal([[100, 101, 102, 103], [200, 201, 202]]);
    expect(summary).to.include({ timeEpochs: 1, aborted: false });
  });

  it('steps back of at most 60 s stay clamped in the same epoch', async function () {
    const file = writeTmp('jitter.pcap', B.pcapFile({}, [
      { sec: T + 100, data: udpFrame(1) }, { sec: T + 40, data: udpFrame(2) }, { sec: T + 101, data: udpFrame(3) }, { sec: T + 95, data: udpFrame(4) },
    ]));
    const { batches, summary } = await collect(file, { batchSize: 1 });
    expect(batches.filter((b) => b.final)).to.have.length(1);
    expect(runsOf(batches)[0].map((p) => p.timeMs)).to.deep.equal([T + 100, T + 100, T + 101, T + 101].map((x) => x * 1000));
    expect(summary).to.include({ timeEpochs: 0 });
    expect(summary.counters).to.include({ timeClamped: 2, timeEpochs: 0 });
  });
});

describe('linkIsDown (interface present but not up)', function () {
  const { linkIsDown } = require('../../dist/core/live-capture.js');
  it('reads IFF_UP from the interface flags (netdevice(7))', function () {
    expect(linkIsDown('eth0', () => '0x1003\n'), 'UP|BROADCAST|MULTICAST').to.equal(false);
    expect(linkIsDown('eth0', () => '0x1002\n'), 'BROADCAST|MULTICAST, not UP').to.equal(true);
  });
  it('says "not down" where the flags cannot be read, and never reads a path built from a strange name', function () {
    expect(linkIsDown('eth0', () => { throw new Error('ENOENT'); })).to.equal(false);
    let read = false;
    expect(linkIsDown('../../etc/passwd', () => { read = true; return '0x0'; })).to.equal(false);
    expect(read).to.equal(false);
  });
  it('reads the real flags of lo on Linux', function () {
    if (process.platform !== 'linux') this.skip(); // /sys/class/net is Linux's
    expect(linkIsDown('lo')).to.equal(false);
  });
});
