'use strict';
/**
 * flow-aggregator: the stepwise API (beginIngest / beginFlush → AggregatorJob.step) that the node uses
 * to build a window of 100,000 records over several event-loop turns (issue #8: event-loop p99 < 50 ms),
 * and the allocation-free DistinctColumn behind every distinct count.
 *
 * Expected results: the stepwise windows must equal the synchronous ones record for record (the same
 * packets fed to two aggregators made under the same seeded Math.random); step counts follow from the
 * documented step sizes (FOLD_STEP_PACKETS, CLOSE_STEP_RECORDS) and the packets written here;
 * DistinctColumn is checked against JavaScript's Set over the same random members.
 */
const path = require('path');
const { expect } = require('chai');
const { eth, ipv4, tcp, udp } = require('../fixtures/capture-builder');
const { seededRandom } = require('../fixtures/seeded-math-random');
const P = require('../fixtures/pcaps');
const { PacketBatchBuilder } = require('../../dist/core/decoder');
const { readCaptureFileSync } = require('../../dist/core/replay');
const { FlowAggregator, AggregatorJob, FOLD_STEP_PACKETS, CLOSE_STEP_RECORDS } = require('../../dist/core/flow-aggregator');
const { DistinctColumn } = require('../../dist/core/flow-table');
const { ContractError } = require('../../dist/core/contracts');

const T0 = 1_700_000_000_000; // a multiple of the 10 s window
const ALL = ['interface', 'dstHost', 'srcHost', 'flow', 'service', 'hostPair', 'subnet'];

/** Two aggregators with the same options and the same hash seeds (seeded Math.random). */
function twin(options) {
  return [0, 1].map(() => seededRandom(20261121, () => new FlowAggregator(options)));
}

/** Runs a job step by step; returns its windows and the number of steps taken. */
function stepwise(job) {
  expect(job).to.be.instanceOf(AggregatorJob);
  let steps = 1;
  while (!job.step()) steps++;
  expect(job.done).to.equal(true);
  expect(job.step(), 'step() after the end stays true').to.equal(true);
  return { windows: job.windows, steps };
}

/** One batch: `hosts` sources 10.1.x.y each sending one UDP packet to 10.200.0.1:53, spread over `spanMs` from `t0`. */
function manyHostsBatch(builder, hosts, t0, spanMs) {
  for (let i = 0; i < hosts; i++) {
    const frame = eth(0x0800, ipv4({ src: `10.1.${i >> 8}.${i & 255}`, dst: '10.200.0.1', proto: 17, payload: udp({ sport: 20000 + (i % 1000), dport: 53 }) }));
    builder.add(1, frame, frame.length, frame.length, t0 + (i * spanMs) / hosts, 0);
  }
}

describe('flow-aggregator: stepwise ingest and flush (AggregatorJob)', function () {
  it('gives the same windows as ingest() for a batch that closes windows in its middle, in bounded steps', function () {
    const [sync, step] = twin({ scopes: ALL, internalNetworks: ['10.0.0.0/8'] });
    const b = new PacketBatchBuilder(8192);
    // 3,000 hosts over 25 s: windows [T0, +10 s) and [+10 s, +20 s) close inside the batch, [+20 s, +30 s) stays open
    manyHostsBatch(b, 3000, T0, 25_000);
    const batch = b.flush('eth0', T0 + 25_000, false);
    const want = sync.ingest(batch);
    const { windows, steps } = stepwise(step.beginIngest(batch));
    expect(want.map((w) => w.windowStart)).to.deep.equal([T0, T0 + 10_000]);
    expect(windows).to.deep.equal(want);
    // each closed window holds 1,200 packets of distinct sources: ≥ 1,200 srcHost + 1,200 flow records
    const records = want.reduce((n, w) => n + w.records.length, 0);
    expect(records).to.be.greaterThan(4 * 1200);
    expect(steps, 'one step per FOLD_STEP_PACKETS packets and per CLOSE_STEP_RECORDS records at least')
      .to.be.at.least(Math.ceil(3000 / FOLD_STEP_PACKETS) + Math.floor(records / CLOSE_STEP_RECORDS));
    // and the open window closes the same way on a flush, stepwise or not
    const lastSync = sync.flush(true);
    const lastStep = stepwise(step.beginFlush(true));
    expect(lastStep.windows).to.deep.equal(lastSync);
    expect(lastSync).to.have.length(1);
    expect(lastSync[0].final).to.equal(true);
    expect(step.counters).to.deep.equal(sync.counters);
  });

  it('gives the same windows as ingest() on a real capture with every scope (wireshark__SkypeIRC.cap, 1 s windows)', function () {
    if (!P.havePcaps()) this.skip();
    const { batches } = readCaptureFileSync(P.pcapPath('wireshark__SkypeIRC.cap'), 512);
    const [sync, step] = twin({ windowMs: 1000, scopes: ALL, internalNetworks: ['192.168.0.0/16'] });
    let windows = 0;
    for (const batch of batches) {
      const want = sync.ingest(batch);
      windows += want.length;
      expect(stepwise(step.beginIngest(batch)).windows).to.deep.equal(want);
    }
    expect(windows).to.be.greaterThan(100);
  });

  it('takes no other batch, flush or reset while a job is unfinished, and all of them once it is done', function () {
    const agg = new FlowAggregator();
    const b = new PacketBatchBuilder(4096);
    manyHostsBatch(b, 2000, T0, 1000);
    const job = agg.beginIngest(b.flush('eth0', T0 + 1000, false));
    expect(job.step()).to.equal(false); // 2,000 packets: more than one step
    const empty = new PacketBatchBuilder(1).flush('eth0', T0 + 2000, false);
    expect(() => agg.ingest(empty)).to.throw(Error, /still running/);
    expect(() => agg.beginFlush()).to.throw(Error, /still running/);
    expect(() => agg.flush()).to.throw(Error, /still running/);
    expect(() => agg.reset()).to.throw(Error, /still running/);
    job.run();
    expect(agg.counters.packetsSeen).to.equal(2000);
    expect(agg.ingest(empty)).to.deep.equal([]);
    expect(agg.flush(false)).to.have.length(1);
    agg.reset();
    expect(agg.counters.packetsSeen).to.equal(0);
  });

  it('refuses a malformed batch at beginIngest (ContractError, no job left behind)', function () {
    const agg = new FlowAggregator();
    expect(() => agg.beginIngest({ kind: 'netbaseline/packets', count: 3 })).to.throw(ContractError);
    expect(agg.counters.packetsSkipped).to.equal(3);
    const b = new PacketBatchBuilder(4);
    const frame = eth(0x0800, ipv4({ payload: tcp() }));
    b.add(1, frame, frame.length, frame.length, T0, 0);
    expect(agg.ingest(b.flush('eth0', T0, true))).to.have.length(1);
  });
});

describe('flow-table: DistinctColumn (open addressing, cleared by generation)', function () {
  it('counts, enumerates and sorts the same members as a Set per id, across table growth and many clears', function () {
    seededRandom(7, () => {
      const ids = 3000;
      const col = new DistinctColumn(ids, Number.MAX_SAFE_INTEGER);
      for (let round = 0; round < 6; round++) {
        const ref = new Map();
        // round 0 is small, later rounds grow the pair table past its first 1,024 slots several times
        const adds = round === 0 ? 300 : 20_000 * round;
        for (let k = 0; k < adds; k++) {
          const id = Math.floor(Math.random() * ids);
          const value = Math.floor(Math.random() * (round % 2 === 0 ? 50 : 200_000)); // few or many distinct members
          col.add(id, value);
          if (!ref.has(id)) ref.set(id, new Set());
          ref.get(id).add(value);
        }
        for (let id = 0; id < ids; id++) {
          const set = ref.get(id) || new Set();
          expect(col.count(id), `round ${round} id ${id}`).to.equal(set.size);
          const seen = [];
          col.forEach(id, (m) => seen.push(m));
          const want = [...set].sort((a, b) => a - b);
          expect(seen.sort((a, b) => a - b)).to.deep.equal(want);
          expect(col.sorted(id)).to.deep.equal(want);
          if (set.size > 0) expect(set.has(col.first[id])).to.equal(true);
          expect(col.truncated[id]).to.equal(0);
        }
        col.clear(ids);
        for (let id = 0; id < ids; id += 97) expect(col.count(id)).to.equal(0);
      }
    });
  });

  it('keeps at most cap members per id and flags the id as truncated; a member already held is no refusal', function () {
    const col = new DistinctColumn(4, 3);
    for (const v of [10, 20, 30]) col.add(1, v);
    col.add(1, 20); // already held
    expect(col.truncated[1]).to.equal(0);
    col.add(1, 40);
    expect(col.truncated[1]).to.equal(1);
    expect(col.sorted(1)).to.deep.equal([10, 20, 30]);
    col.add(2, 40); // another id is not affected
    expect(col.sorted(2)).to.deep.equal([40]);
    expect(col.truncated[2]).to.equal(0);
    col.grow(10);
    col.add(9, 5);
    expect(col.count(9)).to.equal(1);
    expect(col.count(1)).to.equal(3);
  });
});
