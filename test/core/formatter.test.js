'use strict';
const { expect } = require('chai');
const {
  formatAnomaly, anomalyTopic, topicLevel, formatMetricValue, formatCount, formatPercent, formatTime, escapeHtml, SIGNAL_NOT_VERDICT,
} = require('../../dist/core/formatter');

// 2024-05-01T10:42:17.456Z: the brief's example time, with milliseconds that the display truncates
const TIME = Date.UTC(2024, 4, 1, 10, 42, 17, 456);

/** node-red-node-email 5.2.5 (61-email.js) sends msg.payload as HTML when it matches this. */
const EMAIL_NODE_HTML_SNIFF = /<[a-z][\s\S]*>/i;

function scanEvent(over = {}) {
  const mature = { fast: 3_000_000, slow: 1_200_000, mean: 1_200_000, std: 300_000, samples: 240, state: 'mature' };
  return {
    kind: 'netbaseline/anomaly', version: 1, id: `port-scan|src 10.0.0.140|${TIME - 10_000}`, status: 'firing',
    time: TIME, window: { start: TIME - 10_000, end: TIME, ms: 10_000 },
    rule: 'port-scan', severity: 'high', scope: 'srcHost', key: 'src 10.0.0.140', srcIp: '10.0.0.140',
    metric: 'distinctDstPorts', value: 1000, threshold: 100, baseline: null, deviationPercent: 900,
    message: 'src 10.0.0.140 sent SYNs to 1,000 ports on 3 hosts',
    findings: [
      { rule: 'port-scan', severity: 'high', metric: 'distinctDstPorts', value: 1000, threshold: 100, baseline: null, deviationPercent: 900, explanation: '1,000 ports > 100' },
      { rule: 'dual-ewma', severity: 'medium', metric: 'bitsPerSecond', value: 12_345_678, threshold: 5_000_000, baseline: mature, deviationPercent: 928.8, explanation: 'fast EWMA above slow' },
    ],
    source: 'scan.pcap',
    ...over,
  };
}

describe('formatter: numbers and times', function () {
  it('writes bit rates with SI prefixes', function () {
    expect(formatMetricValue('bitsPerSecond', 12_345_678)).to.equal('12.3 Mbit/s');
    expect(formatMetricValue('bitsPerSecond', 1500)).to.equal('1.5 kbit/s');
    expect(formatMetricValue('bitsPerSecond', 999)).to.equal('999 bit/s');
    expect(formatMetricValue('bitsPerSecond', 2.5e9)).to.equal('2.5 Gbit/s');
    expect(formatMetricValue('bitsPerSecond', 999_999)).to.equal('1 Mbit/s'); // not "1,000 kbit/s"
  });
  it('writes bytes, pps, counts and durations', function () {
    expect(formatMetricValue('bytes', 1_234_567)).to.equal('1.2 MB');
    expect(formatMetricValue('bytes', 512)).to.equal('512 bytes');
    expect(formatMetricValue('packetsPerSecond', 1234.5)).to.equal('1,235 pps');
    expect(formatMetricValue('packetsPerSecond', 12.34)).to.equal('12.3 pps');
    expect(formatMetricValue('packets', 1_234_567)).to.equal('1,234,567 packets');
    expect(formatMetricValue('distinctDstPorts', 1000)).to.equal('1,000 ports');
    expect(formatMetricValue('flowDurationMs', 850)).to.equal('850 ms');
    expect(formatMetricValue('flowDurationMs', 4200)).to.equal('4.2 s');
    expect(formatMetricValue('someOtherMetric', 1_234_567.891)).to.equal('1,234,568');
  });
  it('rounds counts and percentages for people', function () {
    expect(formatCount(3.14159)).to.equal('3.14');
    expect(formatCount(42.42)).to.equal('42.4');
    expect(formatCount(12345.6)).to.equal('12,346');
    expect(formatPercent(928.8)).to.equal('+929%');
    expect(formatPercent(12_400)).to.equal('+12,400%');
    expect(formatPercent(-40)).to.equal('-40%');
    expect(formatPercent(2.54)).to.equal('+2.5%');
    expect(formatPercent(Infinity)).to.equal('n/a');
  });
  it('writes packet time as ISO 8601 UTC to the second', function () {
    expect(formatTime(TIME)).to.equal('2024-05-01T10:42:17Z');
    expect(formatTime(0)).to.equal('1970-01-01T00:00:00Z');
    expect(formatTime(1e20)).to.equal('100000000000000000000 ms'); // outside Date's range: no throw
  });
});

describe('formatter: text', function () {
  it('writes the header line and one indented line per finding', function () {
    const out = formatAnomaly(scanEvent(), 'text');
    expect(out.topic).to.equal('netbaseline/high/srcHost/src_10.0.0.140');
    expect(out).to.not.have.property('plaintext');
    expect(out.payload.split('\n')).to.deep.equal([
      '[HIGH] 2024-05-01T10:42:17Z port-scan src 10.0.0.140: src 10.0.0.140 sent SYNs to 1,000 ports on 3 hosts',
      '  port-scan: distinctDstPorts 1,000 ports vs 100 ports (no baseline, +900%)',
      '  dual-ewma: bitsPerSecond 12.3 Mbit/s vs 5 Mbit/s (baseline 1.2 Mbit/s ±300 kbit/s, mature, +929%)',
    ]);
  });
  it('says how many repeats the cooldown held back', function () {
    const out = formatAnomaly(scanEvent({ suppressedCount: 12 }), 'text');
    expect(out.payload.split('\n')[0]).to.match(/: src 10\.0\.0\.140 sent SYNs to 1,000 ports on 3 hosts \[12 repeats held back\]$/);
    expect(formatAnomaly(scanEvent({ suppressedCount: 0 }), 'text').payload).to.not.include('held back');
  });
  it('keeps one line per item when event text holds line breaks', function () {
    const out = formatAnomaly(scanEvent({ message: 'line one\r\nline two', findings: [] }), 'text');
    const lines = out.payload.split('\n');
    expect(lines).to.have.length(2); // header + the primary finding rebuilt from the top-level fields
    expect(lines[0]).to.include('line one line two');
    expect(lines[1]).to.equal('  port-scan: distinctDstPorts 1,000 ports vs 100 ports (no baseline, +900%)');
  });
});

describe('formatter: json', function () {
  it('returns a deep copy of the event and the MQTT topic', function () {
    const e = scanEvent();
    const out = formatAnomaly(e, 'json');
    expect(out.payload).to.deep.equal(e);
    expect(out.payload).to.not.equal(e);
    expect(out.payload.findings[1].baseline).to.not.equal(e.findings[1].baseline);
    expect(out.topic).to.equal('netbaseline/high/srcHost/src_10.0.0.140');
  });
  it('makes flow keys and hostile keys topic-safe with exactly four levels', function () {
    const flow = scanEvent({ severity: 'medium', scope: 'flow', key: 'tcp 10.0.0.1:51234 > 10.0.0.2:80' });
    expect(anomalyTopic(flow)).to.equal('netbaseline/medium/flow/tcp_10.0.0.1:51234_>_10.0.0.2:80');
    const hostile = scanEvent({ scope: 'interface', key: 'iface a+b#c/d\u0000e\tf' });
    const topic = anomalyTopic(hostile);
    expect(topic).to.equal('netbaseline/high/interface/iface_abc_d_e_f');
    expect(topic.split('/')).to.have.length(4);
    expect(topic).to.not.match(/[+#\u0000]/);
    expect(topicLevel('+#')).to.equal('_'); // never an empty level
    expect(anomalyTopic(scanEvent({ key: '[2001:db8::1]:443' }))).to.equal('netbaseline/high/srcHost/[2001:db8::1]:443');
  });
});

describe('formatter: email', function () {
  it('sets subject, HTML body (payload) and plain-text alternative (plaintext)', function () {
    const out = formatAnomaly(scanEvent({ suppressedCount: 3 }), 'email');
    expect(Object.keys(out).sort()).to.deep.equal(['payload', 'plaintext', 'topic']);
    expect(out.topic).to.equal('[netbaseline] HIGH port-scan on src 10.0.0.140');
    // node-red-node-email sends msg.payload as the HTML part only when it matches its sniff regex
    expect(out.payload).to.be.a('string').and.to.match(EMAIL_NODE_HTML_SNIFF);
    expect(out.payload).to.match(/^<!DOCTYPE html>\n<html>[\s\S]*<\/html>\n$/);
    expect(out.payload).to.include('src 10.0.0.140 sent SYNs to 1,000 ports on 3 hosts');
    expect(out.payload).to.include('3 repeats of this alert');
    const text = out.plaintext;
    expect(text).to.be.a('string');
    expect(text).to.include('What happened:');
    expect(text).to.include('src 10.0.0.140 sent SYNs to 1,000 ports on 3 hosts');
    expect(text).to.match(/When \(packet time\): +2024-05-01T10:42:17Z/);
    expect(text).to.match(/Window: +2024-05-01T10:42:07Z to 2024-05-01T10:42:17Z \(10 s\)/);
    expect(text).to.match(/Baseline: +none/); // the primary finding (port-scan) has no baseline
    expect(text).to.match(/Held back: +3 repeats/);
    expect(text).to.include(SIGNAL_NOT_VERDICT);
    expect(SIGNAL_NOT_VERDICT).to.match(/signal to investigate, not a verdict/);
  });
  it('aligns the findings as columns in the plain-text body', function () {
    const lines = formatAnomaly(scanEvent(), 'email').plaintext.split('\n');
    const head = lines.findIndex((l) => /^\s+Rule\s+Severity\s+Metric/.test(l));
    expect(head).to.be.above(-1);
    const rows = lines.slice(head, head + 3);
    expect(rows[1]).to.match(/^\s+port-scan\s+high\s+distinctDstPorts\s+1,000 ports\s+100 ports\s+none\s+no baseline\s+\+900%$/);
    expect(rows[2]).to.match(/^\s+dual-ewma\s+medium\s+bitsPerSecond\s+12\.3 Mbit\/s\s+5 Mbit\/s\s+1\.2 Mbit\/s ±300 kbit\/s\s+mature, 240 samples\s+\+929%$/);
    for (const col of ['Value', 'Threshold', 'Baseline', 'Deviation']) {
      const at = rows[0].indexOf(col);
      // every row has a cell starting at the header's column: preceded by two spaces, not by a space inside a cell
      for (const r of rows.slice(1)) expect(r.slice(at - 2, at + 1), `${col} in "${r}"`).to.match(/^ {2}\S/);
    }
  });
  it('shows the baseline state of the primary finding when it has one', function () {
    const e = scanEvent({ rule: 'dual-ewma', metric: 'bitsPerSecond', baseline: scanEvent().findings[1].baseline });
    const text = formatAnomaly(e, 'email').plaintext;
    expect(text).to.match(/Baseline: +mature for bitsPerSecond: slow EWMA 1\.2 Mbit\/s, fast EWMA 3 Mbit\/s, σ 300 kbit\/s, 240 samples/);
  });
  it('puts the findings in an HTML table, one row each', function () {
    const { payload: html } = formatAnomaly(scanEvent(), 'email');
    const tbody = html.slice(html.indexOf('<tbody>'), html.indexOf('</tbody>'));
    expect(tbody.match(/<tr>/g)).to.have.length(2);
    expect(tbody).to.include('<td style="padding:2px 8px">12.3 Mbit/s</td>');
    expect(html).to.include(escapeHtml(SIGNAL_NOT_VERDICT));
  });
  it('escapes keys and messages in the HTML body and keeps them verbatim in the plain text', function () {
    const e = scanEvent({
      key: 'src <img src=x onerror=alert(1)> & "co"',
      message: '<script>alert("x")</script> & <b>bold</b>',
      source: "o'brien.pcap",
    });
    const out = formatAnomaly(e, 'email');
    expect(out.payload).to.not.include('<script');
    expect(out.payload).to.not.include('<img');
    expect(out.payload).to.not.include('<b>');
    expect(out.payload).to.include('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;');
    expect(out.payload).to.include('src &lt;img src=x onerror=alert(1)&gt; &amp; &quot;co&quot;');
    expect(out.payload).to.include('o&#39;brien.pcap');
    // the e-mail node sends msg.plaintext as text/plain without sniffing it: event text stays as it was
    expect(out.plaintext).to.include('<script>alert("x")</script> & <b>bold</b>');
    expect(out.plaintext).to.include('src <img src=x onerror=alert(1)> & "co"');
    expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
  it('keeps the subject on one line (no header injection) and short', function () {
    const out = formatAnomaly(scanEvent({ key: 'src 10.0.0.1\r\nBcc: victim@example.com' }), 'email');
    expect(out.topic).to.not.match(/[\r\n]/);
    expect(out.topic).to.equal('[netbaseline] HIGH port-scan on src 10.0.0.1 Bcc: victim@example.com');
    const long = formatAnomaly(scanEvent({ key: 'x'.repeat(500) }), 'email');
    expect(long.topic.length).to.equal(200);
  });
});

describe('formatter: bad input', function () {
  it('rejects a non-event and an unknown shape with a ContractError', function () {
    expect(() => formatAnomaly({ kind: 'netbaseline/window' }, 'text')).to.throw(/expected msg\.payload\.kind "netbaseline\/anomaly"/);
    expect(() => formatAnomaly(scanEvent({ severity: 'critical' }), 'text')).to.throw(/severity/);
    expect(() => formatAnomaly(scanEvent(), 'sms')).to.throw(/unknown format shape "sms"/);
  });
});
