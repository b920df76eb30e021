'use strict';
/**
 * The command-line tool on the real captures of ../shared/pcaps, against their MANIFEST ground truth.
 */
const { expect } = require('chai');
const { Writable } = require('stream');
const fs = require('fs');
const path = require('path');
const { main } = require('../../dist/cli/traffic-anomaly');

const root = path.resolve(__dirname, '..', '..');
const PCAPS = path.resolve(root, '..', 'shared', 'pcaps');
const DEMO = path.join(root, 'examples', 'demo-scan-and-flood.pcap');

function sink() {
  const chunks = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(chunk.toString()); cb(); } });
  return { stream, text: () => chunks.join('') };
}

/** Runs the CLI in-process; returns exit code, parsed alerts and stderr. */
async function run(args) {
  const out = sink(), err = sink();
  const code = await main(args, out.stream, err.stream);
  const lines = out.text().split('\n').filter(Boolean);
  return { code, lines, alerts: args.includes('text') ? [] : lines.map((l) => JSON.parse(l)), stderr: err.text() };
}

describe('traffic-anomaly command line', function () {
  this.timeout(60_000);

  before(function () {
    if (!fs.existsSync(PCAPS)) throw new Error(`the shared captures are missing: ${PCAPS}`);
  });

  it('names 10.10.10.10 during the SYN burst of the DOMINATE capture, while baselines are in bootstrap', async function () {
    const { code, alerts } = await run([path.join(PCAPS, 'stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng')]);
    expect(code).to.equal(0);
    const victim = alerts.filter((a) => a.key === 'dst 10.10.10.10');
    expect(victim, 'an alert keyed on the victim').to.have.length.greaterThan(0);
    const first = victim[0];
    expect(first.baseline === null || first.baseline.state === 'bootstrap', 'raised in bootstrap').to.equal(true);
    // MANIFEST: the burst runs 33.83–34.27 s after the first packet
    const firstPacketMs = fs.readFileSync(path.join(PCAPS, 'stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng')).readUInt32LE(24) * 1000; // first record's ts_sec (little-endian pcap)
    expect(first.window.end).to.be.above(firstPacketMs + 33_830);
    expect(first.window.start).to.be.at.most(firstPacketMs + 34_270);
    expect(first.findings.map((f) => f.metric).some((m) => m === 'synCount' || m === 'synPerSecond'), 'a SYN metric').to.equal(true);
  });

  it('raises a port-scan alert naming the scanner of pcaphunt__ps-tcp_syn.pcap', async function () {
    const { alerts } = await run([path.join(PCAPS, 'pcaphunt__ps-tcp_syn.pcap')]);
    const scans = alerts.filter((a) => a.rule === 'port-scan');
    expect(scans.map((a) => a.key)).to.deep.equal(['src 10.0.0.140']);
    expect(scans[0].srcIp).to.equal('10.0.0.140');
    expect(scans[0].value, 'distinct ports').to.be.above(900);
  });

  it('raises no port-scan alert on the benign Skype/IRC capture', async function () {
    const { code, alerts } = await run(['--cooldown-minutes', '0', path.join(PCAPS, 'wireshark__SkypeIRC.cap')]);
    expect(code).to.equal(0);
    expect(alerts.filter((a) => a.rule === 'port-scan')).to.deep.equal([]);
  });

  it('finds the port scan and the SYN flood in the bundled demo capture', async function () {
    const { alerts } = await run([DEMO]);
    expect(alerts.some((a) => a.rule === 'port-scan' && a.key === 'src 192.168.10.66')).to.equal(true);
    const flood = alerts.filter((a) => a.key === 'dst 192.168.10.5');
    expect(flood, 'an alert on the flooded web server').to.have.length.greaterThan(0);
    expect(flood[0].findings.map((f) => f.metric)).to.include('synCount');
    // no alert on the web server before the flood starts (8 min after the first packet)
    const floodStart = Date.UTC(2026, 0, 15, 10, 8, 0);
    expect(alerts.filter((a) => a.key === 'dst 192.168.10.5' && a.window.end <= floodStart)).to.deep.equal([]);
  });

  it('reads every shared capture without a crash and says where a file is damaged', async function () {
    const files = fs.readdirSync(PCAPS).filter((f) => /\.(pcap|pcapng|cap)$/.test(f));
    expect(files.length).to.be.at.least(29);
    for (const f of files) {
      const { code, stderr } = await run(['--format', 'text', path.join(PCAPS, f)]);
      expect(code, `${f}: ${stderr}`).to.equal(0);
      expect(stderr, f).to.match(/\d+ packets/);
      if (f === 'suricata-verify__http-mime-truncated.pcap') expect(stderr).to.match(/truncated/i);
    }
  });

  it('prints usage and exits 2 on bad arguments, 1 on a missing file', async function () {
    expect((await run([])).code).to.equal(2);
    expect((await run(['--window-seconds', '-3', DEMO])).code).to.equal(2);
    const missing = await run(['/nonexistent/capture.pcap']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('/nonexistent/capture.pcap');
  });
});
