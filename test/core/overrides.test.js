'use strict';
const { expect } = require('chai');
const net = require('net');
const { parseIpAddress, parseCidr, isCidr, cidrContains, PrefixMatcher, ProfiledDetector, recordAddresses, mergeOverride } = require('../../dist/core/overrides');
const { RuleDetector } = require('../../dist/core/rules');

describe('overrides: IP addresses and CIDR prefixes', function () {
  it('parses the address forms Node.js net.isIP accepts and rejects the ones it rejects', function () {
    const samples = [
      '0.0.0.0', '192.168.10.5', '255.255.255.255', '256.1.1.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-4', '',
      '::', '::1', '1::', '2001:db8::1', '2001:DB8:0:0:8:800:200C:417A', 'fe80::1:2:3:4:5:6', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::',
      '1:2:3:4:5:6:7:8:9', '1::2::3', ':1:2:3:4:5:6:7', '12345::', 'g::1', '::ffff:192.168.1.1', '::192.168.1.1', '64:ff9b::1.2.3.4',
      '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', 'fe80::1%eth0',
    ];
    for (const s of samples) {
      const ours = parseIpAddress(s);
      expect(ours !== null, `${JSON.stringify(s)}: parsed iff net.isIP accepts it`).to.equal(net.isIP(s) !== 0 && !s.includes('%'));
    }
  });

  it('gives the bytes of an address; an IPv4-mapped IPv6 address is its IPv4 address', function () {
    expect(parseIpAddress('192.168.10.5')).to.deep.equal({ family: 4, bytes: new Uint8Array([192, 168, 10, 5]) });
    expect(parseIpAddress('::ffff:192.168.10.5')).to.deep.equal({ family: 4, bytes: new Uint8Array([192, 168, 10, 5]) });
    expect(parseIpAddress('::ffff:c0a8:a05')).to.deep.equal({ family: 4, bytes: new Uint8Array([192, 168, 10, 5]) });
    const v6 = parseIpAddress('2001:db8::8:800:200c:417a');
    expect(v6.family).to.equal(6);
    expect(Buffer.from(v6.bytes).toString('hex')).to.equal('20010db80000000000080800200c417a');
  });

  it('parses CIDR prefixes, clears host bits, and names what is wrong', function () {
    expect(parseCidr('10.1.2.3/8')).to.include({ family: 4, prefixLength: 8, text: '10.0.0.0/8' });
    expect(parseCidr('192.168.10.5')).to.include({ prefixLength: 32, text: '192.168.10.5/32' });
    expect(parseCidr('2001:DB8:0:0:1::/32')).to.include({ family: 6, prefixLength: 32, text: '2001:db8::/32' });
    expect(parseCidr('::/0')).to.include({ family: 6, prefixLength: 0, text: '::/0' });
    expect(parseCidr('0.0.0.0/0')).to.include({ family: 4, prefixLength: 0 });
    expect(parseCidr('::ffff:10.0.0.0/104')).to.include({ family: 4, prefixLength: 8, text: '10.0.0.0/8' });
    expect(parseCidr('fe80::/10').text).to.equal('fe80::/10');
    expect(parseCidr('2001:db8:0:1:0:0:0:0/64').text).to.equal('2001:db8:0:1::/64');
    expect(() => parseCidr('10.0.0.0/33')).to.throw(RangeError, /prefix length must be 0–32/);
    expect(() => parseCidr('2001:db8::/129')).to.throw(RangeError, /0–128/);
    expect(() => parseCidr('10.0.0/8')).to.throw(RangeError, /not an IPv4 address/);
    expect(() => parseCidr('10.0.0.0/8a')).to.throw(RangeError, /not a whole number/);
    expect(() => parseCidr('10.0.0.0/')).to.throw(RangeError, /not a whole number/);
    expect(() => parseCidr('2001:db8:::/32')).to.throw(RangeError, /not an IPv6 address/);
    expect(() => parseCidr('')).to.throw(RangeError, /empty/);
    expect(isCidr('192.168.0.0/16')).to.equal(true);
    expect(isCidr('192.168.0.0/16/2')).to.equal(false);
    expect(isCidr('not a cidr')).to.equal(false);
  });

  it('contains exactly the addresses net.BlockList puts in the same subnet', function () {
    const blocks = ['10.0.0.0/8', '192.168.10.0/25', '192.168.10.128/25', '172.16.0.0/12', '0.0.0.0/0', '192.168.10.5/32', '100.64.0.0/10'];
    const v6blocks = ['2001:db8::/32', '2001:db8:abcd:12::/64', 'fe80::/10', '::/0', '2001:db8::1/128', '2001:db8:8000::/33'];
    const addrs = ['10.255.255.255', '11.0.0.0', '192.168.10.127', '192.168.10.128', '172.31.255.1', '172.32.0.1', '192.168.10.5', '192.168.10.6', '100.127.0.1', '100.128.0.1'];
    const v6addrs = ['2001:db8::1', '2001:db8::2', '2001:db9::1', '2001:db8:abcd:12:ffff::1', '2001:db8:abcd:13::1', 'fe80::1', 'febf::1', 'fec0::1', '2001:db8:8000::1', '2001:db8:7fff::1'];
    let checked = 0;
    for (const [list, family, addrList] of [[blocks, 'ipv4', addrs], [v6blocks, 'ipv6', v6addrs]]) {
      for (const b of list) {
        const [a, len] = b.split('/');
        const bl = new net.BlockList();
        bl.addSubnet(a, Number(len), family);
        const block = parseCidr(b);
        for (const x of addrList) {
          expect(cidrContains(block, parseIpAddress(x)), `${x} in ${b}`).to.equal(bl.check(x, family));
          checked++;
        }
      }
    }
    expect(checked).to.equal(130);
    // families do not mix: ::/0 does not contain an IPv4 address, 0.0.0.0/0 no IPv6 address
    expect(cidrContains(parseCidr('::/0'), parseIpAddress('10.0.0.1'))).to.equal(false);
    expect(cidrContains(parseCidr('0.0.0.0/0'), parseIpAddress('2001:db8::1'))).to.equal(false);
    expect(cidrContains(parseCidr('10.0.0.0/8'), parseIpAddress('::ffff:10.1.2.3'))).to.equal(true);
  });

  it('PrefixMatcher: the longest matching prefix wins, whatever the order given', function () {
    const entries = [
      { cidr: '0.0.0.0/0', value: 'default' },
      { cidr: '192.168.10.0/24', value: 'lan' },
      { cidr: '10.0.0.0/8', value: 'ten' },
      { cidr: '192.168.10.5/32', value: 'nas' },
      { cidr: '192.168.0.0/16', value: 'site' },
      { cidr: '2001:db8::/32', value: 'v6' },
      { cidr: '2001:db8:1::/48', value: 'v6-48' },
    ];
    for (const order of [entries, [...entries].reverse()]) {
      const m = new PrefixMatcher(order);
      expect(m.match('192.168.10.5').value).to.equal('nas');
      expect(m.match('192.168.10.6').value).to.equal('lan');
      expect(m.match('192.168.11.6').value).to.equal('site');
      expect(m.match('10.9.9.9').value).to.equal('ten');
      expect(m.match('8.8.8.8').value).to.equal('default');
      expect(m.match('2001:db8:1:2::3').value).to.equal('v6-48');
      expect(m.match('2001:db8:2::3').value).to.equal('v6');
      expect(m.match('2001:db9::1')).to.equal(undefined);
      expect(m.match('not an address')).to.equal(undefined);
    }
  });

  it('PrefixMatcher rejects a bad CIDR and the same prefix twice, naming the entry', function () {
    expect(() => new PrefixMatcher([{ cidr: '10.0.0.0/8', value: 1 }, { cidr: '10.0.0.300/8', value: 2 }])).to.throw(RangeError, /^entry 2: .*not an IPv4 address/);
    expect(() => new PrefixMatcher([{ cidr: '10.0.0.0/8', value: 1 }, { cidr: '10.1.0.0/8', value: 2 }])).to.throw(RangeError, /entry 2: 10\.0\.0\.0\/8 is already entry 1/);
  });
});

describe('overrides: ProfiledDetector', function () {
  const WIN = 10_000;
  const T0 = 1_700_000_000_000;
  const mature = (fast, slow) => ({ state: 'mature', firstSeen: T0 - 3_600_000, samples: 100, metrics: { synCount: { fast, slow, mean: slow, std: 1, samples: 100 } } });
  const dst = (ip, syn) => ({ scope: 'dstHost', key: `dst ${ip}`, dstIp: ip, metrics: { synCount: syn }, baseline: mature(10, 5) });
  const scanner = (ip, syns, ports) => ({ scope: 'srcHost', key: `src ${ip}`, srcIp: ip, metrics: { synCount: syns }, scan: { synDstPorts: ports, truncated: false, synDstHosts: 1 } });
  const range = (from, n) => Array.from({ length: n }, (_, i) => from + i);
  function win(i, records) {
    const windowStart = T0 + i * WIN;
    return {
      kind: 'netbaseline/window', version: 1, source: 'test', windowStart, windowEnd: windowStart + WIN, windowMs: WIN, gapBeforeMs: 0, final: false,
      counters: { packetsSeen: 0, packetsSkipped: 0, trackedFlows: 0, flowEvictions: 0, hostEvictions: 0, windows: i + 1 },
      records: records.map((r) => ({ windowStart, windowEnd: windowStart + WIN, ...r })),
    };
  }
  // dual EWMA only: 40 SYNs against fast 10 and slow 5 is above 3 × 10 and 5 × 5 with the defaults
  const options = { spike: { enabled: false }, bootstrapStatic: { enabled: false }, peakGuard: false }; // one key judged twice as if new

  it('without overrides gives exactly what RuleDetector gives', function () {
    const w = win(0, [dst('192.168.10.5', 40), dst('192.168.10.6', 40), scanner('10.0.0.1', 150, range(1, 30))]);
    const plain = new RuleDetector(options).evaluate(w);
    const profiled = new ProfiledDetector(options).evaluate(w);
    expect(profiled).to.deep.equal(plain);
    expect(plain.map((e) => e.key)).to.deep.equal(['dst 192.168.10.5', 'dst 192.168.10.6', 'src 10.0.0.1']);
  });

  it('applies an override\'s multiplier to the hosts in its prefix only', function () {
    // fast × 5 = 50 > 40: the NAS no longer alerts; its neighbour does
    const d = new ProfiledDetector(options, [{ cidr: '192.168.10.5/32', fastMultiplier: 5 }]);
    const events = d.evaluate(win(0, [dst('192.168.10.5', 40), dst('192.168.10.6', 40)]));
    expect(events.map((e) => e.key)).to.deep.equal(['dst 192.168.10.6']);
    // above 5 × 10 it alerts again, with the override's multiplier in the explanation
    const [e] = d.evaluate(win(1, [dst('192.168.10.5', 60)]));
    expect(e.key).to.equal('dst 192.168.10.5');
    expect(e.message).to.match(/above 5× its fast EWMA/);
  });

  it('skips allow-listed hosts; the longest prefix decides between an override and the allow-list', function () {
    const d = new ProfiledDetector(options,
      [{ cidr: '192.168.10.0/24', fastMultiplier: 2 }, { cidr: '10.9.0.0/16', scanSyns: 10 }],
      [{ cidr: '192.168.10.5/32', note: 'backup server' }, { cidr: '10.0.0.0/8' }]);
    const events = d.evaluate(win(0, [
      dst('192.168.10.5', 40), // allow-listed (/32 beats the /24 override)
      dst('192.168.10.7', 40), // override /24
      scanner('10.1.1.1', 150, range(1, 30)), // allow-listed by 10/8: not even the port-scan rule sees it
      scanner('10.9.1.1', 15, range(1, 30)), // override /16 beats the allow-listed /8: 15 SYNs > 10
      dst('172.16.0.1', 40), // the node's own settings
    ]));
    expect(events.map((e) => e.key)).to.deep.equal(['dst 192.168.10.7', 'src 10.9.1.1', 'dst 172.16.0.1']);
    expect(events[1].rule).to.equal('port-scan');
    expect(d.allowListed).to.equal(2);
    expect(d.sizes).to.deep.equal({ overrides: 2, allowList: 2 });
  });

  it('matches flow records by the longer prefix of source and destination, interface records never', function () {
    const d = new ProfiledDetector(options, [], [{ cidr: '192.168.10.0/24' }, { cidr: '10.0.0.0/8' }]);
    expect(recordAddresses({ scope: 'flow', key: 'k', srcIp: '10.0.0.1', dstIp: '192.168.10.5' })).to.deep.equal(['192.168.10.5', '10.0.0.1']);
    expect(d.route({ scope: 'flow', key: 'k', srcIp: '8.8.8.8', dstIp: '10.1.1.1', metrics: {} })).to.equal(null);
    expect(d.route({ scope: 'flow', key: 'k', srcIp: '8.8.8.8', dstIp: '9.9.9.9', metrics: {} })).to.equal(-1);
    expect(d.route({ scope: 'interface', key: 'iface eth0', metrics: {} })).to.equal(-1);
    expect(d.route({ scope: 'srcHost', key: 'src ::ffff:10.1.1.1', srcIp: '::ffff:10.1.1.1', metrics: {} })).to.equal(null);
  });

  it('keeps a source\'s port-scan evidence across windows inside its override profile', function () {
    const d = new ProfiledDetector(options, [{ cidr: '10.0.0.0/24', scanSyns: 50, scanPorts: 10 }]);
    expect(d.evaluate(win(0, [scanner('10.0.0.7', 30, range(1, 8))]))).to.deep.equal([]);
    const events = d.evaluate(win(1, [scanner('10.0.0.7', 30, range(9, 8))]));
    // 60 SYNs > 50 to 16 ports > 10, summed over two windows
    expect(events.map((e) => [e.rule, e.key, e.value])).to.deep.equal([['port-scan', 'src 10.0.0.7', 16]]);
    d.reset();
    expect(d.evaluate(win(2, [scanner('10.0.0.7', 30, range(17, 8))]))).to.deep.equal([]);
  });

  it('withChanges (runtime control messages): adds, replaces, merges and removes entries, keeps unchanged detectors and their evidence', function () {
    const d0 = new ProfiledDetector(options, [{ cidr: '10.0.0.0/24', scanSyns: 50, scanPorts: 10 }], [{ cidr: '192.168.0.0/16' }]);
    expect(d0.evaluate(win(0, [scanner('10.0.0.7', 30, range(1, 8)), scanner('172.16.0.9', 60, range(1, 15))]))).to.deep.equal([]);
    const d1 = d0.withChanges({ allow: [{ cidr: '172.20.0.1', note: 'fp' }], override: [{ cidr: '10.0.0.0/24', scanSyns: 55 }] });
    expect(d1.allowList.map((a) => a.cidr)).to.deep.equal(['192.168.0.0/16', '172.20.0.1']);
    // merged into the override of the same prefix; the old detector is not changed
    expect(d1.overrides).to.deep.equal([{ cidr: '10.0.0.0/24', scanSyns: 55, scanPorts: 10 }]);
    expect(d0.overrides).to.deep.equal([{ cidr: '10.0.0.0/24', scanSyns: 50, scanPorts: 10 }]);
    // the node's detector kept 172.16.0.9's first window: 60 + 60 SYNs to 30 ports > 100 / > 20
    const e = d1.evaluate(win(1, [scanner('172.16.0.9', 60, range(16, 15)), scanner('10.0.0.7', 30, range(9, 8))]));
    expect(e.map((x) => x.key)).to.deep.equal(['src 172.16.0.9']); // 10.0.0.7: a changed override starts afresh (30 < 55)
    // an allow entry for an overridden prefix replaces the override (one prefix, one list); remove undoes
    const d2 = d1.withChanges({ allow: [{ cidr: '10.0.0.0/24' }] });
    expect(d2.overrides).to.deep.equal([]);
    expect(d2.route({ scope: 'srcHost', key: 'src 10.0.0.7', srcIp: '10.0.0.7', metrics: {} })).to.equal(null);
    const d3 = d2.withChanges({ allow: [{ cidr: '10.0.0.0/24', remove: true }] });
    expect(d3.route({ scope: 'srcHost', key: 'src 10.0.0.7', srcIp: '10.0.0.7', metrics: {} })).to.equal(-1);
    expect(() => d3.withChanges({ allow: [{ cidr: '10.0.0.300' }] })).to.throw(RangeError, /allow: .*not an IPv4 address/);
    expect(() => d3.withChanges({ override: [{ cidr: '10.0.0.0/8', profile: 'loud' }] })).to.throw(RangeError, /override 1 \(10\.0\.0\.0\/8\): profile must be one of/);
  });

  it('allow-list pairs and services skip only their flows / host-pair / service records, both directions', function () {
    const d = new ProfiledDetector(options, [], [
      { cidr: '10.0.0.5/32', peer: '10.0.9.0/24', note: 'backup pair' },
      { cidr: '10.0.0.80', port: 5201, protocol: 'tcp', note: 'speed test' },
    ]);
    const flow = (src, sport, dst, dport, protocol = 'tcp') => ({ scope: 'flow', key: 'k', srcIp: src, srcPort: sport, dstIp: dst, dstPort: dport, protocol, metrics: {} });
    expect(d.route(flow('10.0.0.5', 40000, '10.0.9.7', 873))).to.equal(null);
    expect(d.route(flow('10.0.9.7', 873, '10.0.0.5', 40000))).to.equal(null); // the reverse direction
    expect(d.route(flow('10.0.0.5', 40000, '10.0.8.7', 873))).to.equal(-1); // another peer
    expect(d.route({ scope: 'hostPair', key: 'k', srcIp: '10.0.9.7', dstIp: '10.0.0.5', metrics: {} })).to.equal(null);
    expect(d.route({ scope: 'dstHost', key: 'dst 10.0.0.5', dstIp: '10.0.0.5', metrics: {} })).to.equal(-1); // the host itself is judged
    expect(d.route(flow('192.0.2.1', 50000, '10.0.0.80', 5201))).to.equal(null);
    expect(d.route(flow('10.0.0.80', 5201, '192.0.2.1', 50000))).to.equal(null); // the server's replies
    expect(d.route(flow('192.0.2.1', 50000, '10.0.0.80', 5201, 'udp'))).to.equal(-1); // tcp only
    expect(d.route(flow('192.0.2.1', 50000, '10.0.0.80', 22))).to.equal(-1); // another port
    expect(d.route({ scope: 'service', key: '10.0.0.80:5201/tcp', dstIp: '10.0.0.80', dstPort: 5201, protocol: 'tcp', metrics: {} })).to.equal(null);
    expect(d.sizes).to.deep.equal({ overrides: 0, allowList: 2 });
    // a plain prefix equal to a pair's is another entry; the same pair twice is an error; bad port
    expect(() => new ProfiledDetector(options, [], [{ cidr: '10.0.0.5/32', peer: '10.0.9.0/24' }, { cidr: '10.0.0.5', peer: '10.0.9.1/24' }])).to.throw(RangeError, /allow-list entry 2: the same pair\/service as allow-list entry 1/);
    expect(() => new ProfiledDetector(options, [{ cidr: '10.0.0.5/32' }], [{ cidr: '10.0.0.5/32', port: 70000 }])).to.throw(RangeError, /allow-list entry 1: port must be/);
    expect(new ProfiledDetector(options, [{ cidr: '10.0.0.5/32' }], [{ cidr: '10.0.0.5/32', port: 22 }]).sizes).to.deep.equal({ overrides: 1, allowList: 1 });
    // at runtime: a pair entry does not drop the override of its prefix; remove takes the pair out
    const r = new ProfiledDetector(options, [{ cidr: '10.0.0.5/32', fastMultiplier: 4 }]).withChanges({ allow: [{ cidr: '10.0.0.5/32', peer: '10.0.9.0/24' }] });
    expect(r.overrides).to.have.length(1);
    expect(r.route(flow('10.0.0.5', 1, '10.0.9.1', 2))).to.equal(null);
    expect(r.withChanges({ allow: [{ cidr: '10.0.0.5/32', peer: '10.0.9.0/24', remove: true }] }).route(flow('10.0.0.5', 1, '10.0.9.1', 2))).to.equal(0);
  });

  it('rejects bad overrides, naming the list and entry', function () {
    expect(() => new ProfiledDetector(options, [{ cidr: '10.0.0.0/8' }], [{ cidr: '10.0.0.0/8' }])).to.throw(RangeError, /allow-list entry 1: 10\.0\.0\.0\/8 is already override 1/);
    expect(() => new ProfiledDetector(options, [{ cidr: '10.0.0.0/8', fastMultiplier: -1 }])).to.throw(RangeError, /override 1 \(10\.0\.0\.0\/8\): dualEwma\.fastMultiplier must be/);
    expect(() => new ProfiledDetector(options, [{ cidr: '10.0.0.0/8', mediumSigma: 4 }])).to.throw(RangeError, /mediumSigma/);
    expect(() => new ProfiledDetector(options, [], [{ cidr: '300.0.0.0/8' }])).to.throw(RangeError, /allow-list entry 1: .*not an IPv4 address/);
    expect(mergeOverride({ dualEwma: { enabled: false, slowMultiplier: 7 } }, { cidr: '::/0', fastMultiplier: 2 }).dualEwma).to.deep.equal({ enabled: false, slowMultiplier: 7, fastMultiplier: 2 });
  });
});
