'use strict';
/**
 * The rules of issue #6 on the real captures of /work/shared/pcaps, through the whole core path
 * (replayCaptureFile → flow-aggregator → ewma-baseline → rule-detector, no cooldown): each attack
 * capture raises the alert its MANIFEST ground truth calls for, and the benign captures raise none
 * of the new rules. Expected numbers come from MANIFEST.md (packet counts, hosts, durations).
 */
const { expect } = require('chai');
const fs = require('fs');
const path = require('path');
const { replayCaptureFile } = require('../../dist/core/replay.js');
const { DetectionPipeline } = require('../../dist/core/pipeline.js');

const PCAPS = '/work/shared/pcaps';
const NEW_RULES = ['admin-fanout', 'latency', 'packet-loss', 'protocol-shift', 'long-lived', 'amplification', 'unsolicited-syn-ack', 'syn-flood', 'horizontal-scan', 'icmp-sweep', 'icmp-flood', 'port-scan'];

/** Every event the detector raises on a capture, and the replay summary. */
async function run(file) {
  const pipeline = new DetectionPipeline({ cooldown: false });
  const events = [];
  const summary = await replayCaptureFile(path.join(PCAPS, file), { onBatch: (batch) => { events.push(...pipeline.ingest(batch)); } });
  events.push(...pipeline.flush());
  return { events, summary };
}
const withRule = (events, rule) => events.filter((e) => e.findings.some((f) => f.rule === rule));
const finding = (e, rule) => e.findings.find((f) => f.rule === rule);

describe('issue #6 rules on real captures (MANIFEST ground truth)', function () {
  this.timeout(60_000);
  before(function () { if (!fs.existsSync(path.join(PCAPS, 'MANIFEST.md'))) this.skip(); });

  it('stopddos SYN flood (9,639 spoofed SYNs, each from its own source, at 33.83–34.27 s): syn-flood on dst 10.10.10.10 inside bootstrap, none before', async function () {
    const { events, summary } = await run('stopddos__pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng');
    const flood = withRule(events, 'syn-flood');
    expect(flood.length).to.be.at.least(1);
    expect(flood.every((e) => e.key === 'dst 10.10.10.10')).to.equal(true);
    expect(flood[0].hints).to.include('SYN flood');
    // the whole capture (34 s) lies inside the 5-minute bootstrap: the rule needs no baseline
    const burstStart = summary.firstPacketMs + 33_830;
    for (const e of flood) expect(e.window.end).to.be.above(burstStart);
    // the window holding the larger part of the burst has at least half of its SYNs, from as many sources
    const top = Math.max(...flood.map((e) => finding(e, 'syn-flood').value * e.window.ms / 1000));
    expect(top).to.be.within(9_639 / 2, 9_639);
  });

  it('stopddos IKE reflection (3,984 packets of 246 bytes from source port 4500, 2,767 reflectors): amplification with an IKE hint', async function () {
    const { events } = await run('stopddos__amp.UDP.isakmp.pcap');
    const amp = withRule(events, 'amplification');
    expect(amp.length).to.be.at.least(1);
    const e = amp[0];
    expect(e.key).to.equal('dst 10.10.10.10');
    expect(finding(e, 'amplification').metric).to.equal('udpReflectorBytes4500');
    expect(finding(e, 'amplification').value).to.be.at.most(3_984 * 246);
    expect(e.hints.some((h) => /IKE.*port 4500/.test(h))).to.equal(true);
  });

  it('stopddos TCP reflection (542 SYN-ACKs to 10.10.10.10, which sends nothing, over 13.6 min): unsolicited-syn-ack', async function () {
    const { events } = await run('stopddos__amp.TCP.syn.optionallyACK.optionallysamePort.pcapng');
    const refl = withRule(events, 'unsolicited-syn-ack');
    expect(refl.length).to.be.at.least(1);
    expect(refl.every((e) => e.key === 'dst 10.10.10.10')).to.equal(true);
    for (const e of refl) expect(finding(e, 'unsolicited-syn-ack').value).to.be.within(21, 542);
    expect(refl[0].hints).to.include('TCP reflection (SYN-ACKs without SYNs)');
  });

  it('pcaphunt ping sweep (10.0.0.128 → all 256 addresses of 10.0.0.0/24 in 2.2 s): icmp-sweep', async function () {
    const { events } = await run('pcaphunt__hs-icmpScan.pcap');
    const sweep = withRule(events, 'icmp-sweep');
    expect(sweep.length).to.be.at.least(1);
    expect(sweep[0].key).to.equal('src 10.0.0.128');
    // 2.2 s span at most two 10 s windows: one of them holds at least half of the 256 hosts
    expect(Math.max(...sweep.map((e) => finding(e, 'icmp-sweep').value))).to.be.within(128, 256);
  });

  it('IPv6 smurf (1,000 echo requests to ff02::1 in 8 ms): icmp-flood on dst ff02::1', async function () {
    const { events } = await run('suricata-verify__rsmurf6.pcap');
    const flood = withRule(events, 'icmp-flood');
    expect(flood.map((e) => e.key)).to.deep.equal(['dst ff02::1']);
    // 1,000 packets within one 10 s window (8 ms span, unless a window boundary cuts it)
    expect(finding(flood[0], 'icmp-flood').value * flood[0].window.ms / 1000).to.be.within(500, 1000);
  });

  it('nmap UDP scan (10.0.0.135 → ~977 ports on each of 3 hosts, 2 probes per port, 42.7 s): port-scan', async function () {
    const { events } = await run('pcaphunt__ps-udp.pcap');
    const scan = withRule(events, 'port-scan');
    expect(scan.length).to.be.at.least(1);
    expect(scan.every((e) => e.key === 'src 10.0.0.135')).to.equal(true);
    // no window holds more than the ~977 ports of one host
    for (const e of scan) expect(finding(e, 'port-scan').value).to.be.within(101, 977);
  });

  it('nmap vertical SYN scans (3 targets; 1 target answering for 5 open ports): port-scan, no horizontal scan, no unsolicited SYN-ACKs', async function () {
    const a = await run('pcaphunt__ps-tcp_syn.pcap');
    expect(withRule(a.events, 'port-scan').map((e) => e.key)).to.include('src 10.0.0.140');
    expect(withRule(a.events, 'horizontal-scan')).to.deep.equal([]);
    const b = await run('evilfingers__TCP_SYN_SCAN.pcap');
    expect(withRule(b.events, 'port-scan').map((e) => e.key)).to.include('src 192.168.1.10');
    expect(withRule(b.events, 'horizontal-scan')).to.deep.equal([]);
    expect(withRule(b.events, 'unsolicited-syn-ack')).to.deep.equal([]); // the scanner sent the SYNs
  });

  for (const file of ['wireshark__SkypeIRC.cap', 'wireshark__pcapng-example.pcapng', 'ndpi__sites.pcapng', 'ndpi__openvpn.pcap', 'ndpi__KakaoTalk_talk.pcap',
    'ndpi__ocs.pcap', 'wireshark__vlan.cap', 'ndpi__http_ipv6.pcap', 'suricata-verify__http-mime-truncated.pcap', 'zeek__redis_pubsub.pcap', 'ndpi__nfsv3.pcap']) {
    it(`benign ${file}: none of the new rules fires`, async function () {
      const { events } = await run(file);
      const raised = events.flatMap((e) => e.findings.filter((f) => NEW_RULES.includes(f.rule)).map((f) => `${f.rule} ${e.key}`));
      expect(raised).to.deep.equal([]);
    });
  }
});
