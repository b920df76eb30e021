'use strict';
/**
 * The bundled demo capture must hold what README and the example promise. Checked independently of
 * our own reader: with Wireshark's tshark/capinfos where installed (CI installs tshark).
 */
const { expect } = require('chai');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { generateDemoCapture, DEMO_GROUND_TRUTH } = require('../../dist/synth/demo-capture');

function hasTool(name) {
  try { execFileSync('which', [name], { stdio: 'ignore' }); return true; } catch { return false; }
}
const tshark = (file, filter) => execFileSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean).map(Number);

describe('demo capture generator', function () {
  let file;
  before(function () {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'demo-')), 'demo.pcap');
    fs.writeFileSync(file, generateDemoCapture());
  });

  it('writes the same bytes on every run (seeded)', function () {
    expect(generateDemoCapture().equals(fs.readFileSync(file))).to.equal(true);
    expect(generateDemoCapture(7).equals(fs.readFileSync(file))).to.equal(false);
  });

  it('is the file the package ships in examples/', function () {
    const shipped = path.resolve(__dirname, '..', '..', 'examples', 'demo-scan-and-flood.pcap');
    expect(fs.existsSync(shipped), 'npm install / npm run build generates it').to.equal(true);
    expect(fs.readFileSync(shipped).equals(fs.readFileSync(file))).to.equal(true);
  });

  describe('checked with tshark', function () {
    before(function () {
      if (!hasTool('tshark')) this.skip(); // CI installs tshark (.ci/run); skipped only on machines without Wireshark
    });

    it('holds a port scan of ports 1-1024 from the scanner within its 8 s', function () {
      const { scanner, target, startOffsetMs, durationMs } = DEMO_GROUND_TRUTH.portScan;
      const times = tshark(file, `ip.src==${scanner} && ip.dst==${target} && tcp.flags.syn==1 && tcp.flags.ack==0`);
      expect(times).to.have.length(1024);
      const t0 = DEMO_GROUND_TRUTH.startMs / 1000;
      expect(Math.min(...times) - t0).to.be.at.least(startOffsetMs / 1000);
      expect(Math.max(...times) - t0).to.be.below((startOffsetMs + durationMs) / 1000);
    });

    it('holds 10,000 spoofed SYNs to the victim in 10 s, from many sources', function () {
      const { victim, port, startOffsetMs, durationMs } = DEMO_GROUND_TRUTH.synFlood;
      const t0 = DEMO_GROUND_TRUTH.startMs / 1000;
      const from = t0 + startOffsetMs / 1000, to = from + durationMs / 1000;
      const inBurst = tshark(file, `ip.dst==${victim} && tcp.dstport==${port} && tcp.flags.syn==1 && tcp.flags.ack==0 && frame.time_epoch >= ${from} && frame.time_epoch < ${to}`);
      // the background's own connections to port 80 (~1.5/s) fall in the same 10 s
      expect(inBurst.length).to.be.within(10_000, 10_100);
      const sources = execFileSync('tshark', ['-r', file, '-Y', `ip.src==203.0.113.0/24 || ip.src==198.51.100.0/24`, '-T', 'fields', '-e', 'ip.src'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean);
      expect(new Set(sources).size).to.be.above(400);
    });

    it('has correct IPv4 and TCP/UDP checksums', function () {
      const bad = execFileSync('tshark', ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
        '-Y', 'ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
      expect(bad.trim()).to.equal('');
    });
  });
});
