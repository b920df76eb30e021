'use strict';
/**
 * For EVERY capture in the shared folder: the per-5-tuple packet and byte totals that pcap-source's
 * reader + decoder and flow-aggregator produce (flow records summed over all windows) equal what
 * tshark reports for the same TCP and UDP packets, and the skip counters are explained.
 *
 * What is compared, and why some packets are left out on both sides (each a documented policy):
 * - ICMP / ICMPv6 errors quote a TCP/UDP header; tshark shows its ports, the decoder counts the
 *   packet as ICMP (type/code as the "port"): excluded (an `icmp` / `icmpv6` layer in the stack).
 * - Tunnels (IP-in-IP, IPv6-in-IPv4, GRE): tshark dissects the inner TCP/UDP, the decoder counts the
 *   packet as its outer protocol (issue 3: "counted as their outer protocol"): excluded (two IP
 *   layers or a `gre` layer in the stack).
 * - Fragments: with reassembly off, tshark shows the ports of first fragments only, as the decoder
 *   does; non-first fragments form no flow on either side.
 * - Frames whose transport header was cut short form no flow (ports unknown); tshark shows no ports.
 * Skip counters: nonIp must equal tshark's count of frames without an IP layer (ARP, LLDP, STP…),
 * malformed the frames listed in MALFORMED below with the reason, unsupportedLinkType 0.
 * One tshark pass per capture (CPU is shared).
 */
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { expect } = require('chai');
const { readCaptureFileSync } = require('../../dist/core/replay.js');
const { FlowAggregator } = require('../../dist/core/flow-aggregator.js');
const P = require('../fixtures/pcaps.js');

/** tshark output lines; a truncated file makes tshark exit non-zero after printing what it read. */
function tsharkLines(file, args) {
  let out;
  try {
    out = execFileSync('tshark', ['-r', file, ...args], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 }).toString();
  } catch (err) {
    if (!err.stdout) throw err;
    out = err.stdout.toString();
  }
  return out.split('\n').filter((l) => l.length > 0);
}

/**
 * One tshark pass over the file (reassembly off): per frame its protocol stack, length and the first
 * (outer) addresses and ports. Returns the TCP/UDP 5-tuple totals of the frames compared (see the top
 * of this file) and the number of frames that are not IP.
 */
function tsharkView(file) {
  const lines = tsharkLines(file, ['-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-T', 'fields', '-E', 'occurrence=f', '-E', 'separator=|',
    '-e', 'frame.protocols', '-e', 'frame.len', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport']);
  const flows = new Map();
  let notIp = 0;
  for (const l of lines) {
    const [protocols, len, s4, s6, d4, d6, tsp, tdp, usp, udp] = l.split('|');
    const stack = protocols.split(':');
    const ipLayers = stack.filter((p) => p === 'ip' || p === 'ipv6').length;
    if (ipLayers === 0) { notIp++; continue; }
    if (stack.includes('icmp') || stack.includes('icmpv6') || stack.includes('gre') || ipLayers > 1) continue; // ICMP errors, tunnels
    const t = stack.find((p) => p === 'tcp' || p === 'udp');
    if (!t) continue;
    const [sp, dp] = t === 'tcp' ? [tsp, tdp] : [usp, udp];
    if (!sp || !dp) continue; // transport header cut short: no ports
    const key = `${t} ${s4 || s6} ${sp} > ${d4 || d6} ${dp}`;
    const v = flows.get(key) || { packets: 0, bytes: 0 };
    v.packets++; v.bytes += Number(len);
    flows.set(key, v);
  }
  return { flows, frames: lines.length, notIp };
}

/**
 * Frames the decoder counts as malformed, per capture (MANIFEST and tshark agree on what they are),
 * and how many of them tshark lists as not IP.
 */
const MALFORMED = {
  'zeek__ip-bogus-header-len.pcap': { count: 1, tsharkNotIp: 0, why: 'IPv4 total length 0, shorter than its header; tshark assumes TCP segmentation offload and uses the frame length' },
  'zeek__ip4-trunc.pcap': { count: 1, tsharkNotIp: 0, why: '20 of 46 bytes captured: the IPv4 header is cut after 6 bytes' },
  'zeek__ip6-trunc.pcap': { count: 1, tsharkNotIp: 0, why: '48 of 74 bytes captured: the IPv6 header is cut after 34 bytes' },
  'zeek__trunc-hdr.pcap': { count: 1, tsharkNotIp: 1, why: '8 bytes captured: the Ethernet header itself is cut (tshark shows "eth" only)' },
};

function ourFlows(file) {
  const { batches, summary } = readCaptureFileSync(file, 4096);
  const agg = new FlowAggregator({ windowMs: 10000 });
  const flows = new Map();
  for (const b of batches) {
    for (const w of agg.ingest(b)) {
      for (const r of w.records) {
        if (r.scope !== 'flow' || (r.protocol !== 'tcp' && r.protocol !== 'udp')) continue;
        const key = `${r.protocol} ${r.srcIp} ${r.srcPort} > ${r.dstIp} ${r.dstPort}`;
        const v = flows.get(key) || { packets: 0, bytes: 0 };
        v.packets += r.metrics.packets; v.bytes += r.metrics.bytes;
        flows.set(key, v);
      }
    }
  }
  return { flows, summary, counters: agg.counters };
}

describe('tshark per-5-tuple comparison for every shared capture (pcap-source reader + decoder → flow-aggregator)', function () {
  this.timeout(120000);
  const names = P.havePcaps() ? fs.readdirSync(P.PCAP_DIR).filter((n) => /\.(pcap|pcapng|cap)$/.test(n)).sort() : [];

  before(function () {
    if (!P.havePcaps() || !P.HAVE_TSHARK) { console.log('    (skipped: shared captures or tshark missing)'); this.skip(); }
  });

  it('covers every capture of the shared folder', function () {
    expect(names.length).to.equal(Object.keys(P.MANIFEST_COUNTS).length);
  });

  for (const name of names) {
    it(`${name}: TCP/UDP 5-tuple packets and bytes equal tshark; skips explained`, function () {
      const file = P.pcapPath(name);
      const theirs = tsharkView(file);
      const { flows: ours, summary } = ourFlows(file);
      expect(Object.fromEntries([...ours].sort())).to.deep.equal(Object.fromEntries([...theirs.flows].sort()));

      const c = summary.counters;
      const m = MALFORMED[name] || { count: 0, tsharkNotIp: 0 };
      expect(c.packetsRead, 'records read = frames tshark reads').to.equal(theirs.frames);
      expect(c.packetsRead).to.equal(c.packetsDecoded + c.nonIp + c.unsupportedLinkType + c.malformed);
      expect(c.unsupportedLinkType, 'every link type of the shared captures is supported').to.equal(0);
      expect(c.malformed, `malformed: ${m.why || 'none'}`).to.equal(m.count);
      expect(c.nonIp, 'non-IP frames (ARP, LLDP, STP…: tshark shows no IP layer)').to.equal(theirs.notIp - m.tsharkNotIp);
    });
  }
});
