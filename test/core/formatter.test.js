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

describe('formatter: lifecycle and fan-out shapes', function () {
  const { fillTopic, checkTopicTemplate, SYSLOG_SD_ID } = require('../../dist/core/formatter');
  const resolved = (over = {}) => scanEvent({
    status: 'resolved', time: TIME + 40_000, firstSeen: TIME - 10_000, lastSeen: TIME + 10_000, durationMs: 20_000, peakValue: 2048,
    suppressedCount: 2, resolvedReason: 'quiet', message: 'Resolved: src 10.0.0.140 port-scan, quiet for 30 s',
    incident: { id: 'incident|src 10.0.0.140|1', opened: TIME - 10_000, lastSeen: TIME + 10_000, events: 3, keys: ['src 10.0.0.140'], keyCount: 1, rules: ['port-scan'], addresses: ['10.0.0.140'], severity: 'high' },
    ...over,
  });

  it('text and email say RESOLVED, how long it lasted, the peak and the repeats', function () {
    const text = formatAnomaly(resolved(), 'text').payload;
    expect(text).to.equal('[RESOLVED] 2024-05-01T10:42:57Z port-scan src 10.0.0.140: Resolved: src 10.0.0.140 port-scan, quiet for 30 s');
    const mail = formatAnomaly(resolved(), 'email');
    expect(mail.topic).to.equal('[netbaseline] RESOLVED port-scan on src 10.0.0.140');
    expect(mail.plaintext).to.match(/^Resolved: port-scan on src 10\.0\.0\.140$/m);
    expect(mail.plaintext).to.match(/^Lasted: +20 s, from 2024-05-01T10:42:07Z to 2024-05-01T10:42:27Z$/m);
    expect(mail.plaintext).to.match(/^Peak: +2,048 ports \(distinctDstPorts\)$/m);
    expect(mail.plaintext).to.match(/^Held back: +2 repeats while it lasted$/m);
    expect(mail.plaintext).to.match(/^Incident: +incident\|src 10\.0\.0\.140\|1: 3 anomalies on 1 key \(src 10\.0\.0\.140\), rules port-scan$/m);
  });

  it('mqtt: fills the topic template with topic-safe levels; the payload is the event', function () {
    const e = scanEvent({ key: 'tcp 10.0.0.1:5 > 10.0.0.2:80', scope: 'flow' });
    const out = formatAnomaly(e, 'mqtt');
    expect(out.topic).to.equal('netbaseline/high/flow/tcp_10.0.0.1:5_>_10.0.0.2:80');
    expect(out.payload).to.deep.equal(e);
    expect(out).to.not.have.property('retain');
    expect(formatAnomaly(e, 'mqtt', { topicTemplate: 'site1/{rule}/{status}/{key}' }).topic).to.equal('site1/port-scan/firing/tcp_10.0.0.1:5_>_10.0.0.2:80');
    expect(fillTopic('x/{incident}', resolved())).to.equal('x/incident|src_10.0.0.140|1');
    expect(() => checkTopicTemplate('a/{colour}')).to.throw(/unknown placeholder \{colour\}/);
    expect(() => checkTopicTemplate('a/#')).to.throw(/wildcards/);
    expect(() => checkTopicTemplate(' ')).to.throw(/empty/);
  });

  it('mqtt with retain: firing is retained; resolved goes out unretained on the same topic and asks for the clear', function () {
    const firing = formatAnomaly(scanEvent(), 'mqtt', { retain: true });
    expect(firing.retain).to.equal(true);
    const done = formatAnomaly(resolved(), 'mqtt', { retain: true });
    expect(done.topic).to.equal(firing.topic);
    expect(done.retain).to.equal(false);
    expect(done.clearRetained).to.equal(true);
    expect(done.payload.status).to.equal('resolved');
  });

  it('slack: text fallback and Block Kit blocks within Slack limits, mrkdwn escaped', function () {
    const out = formatAnomaly(scanEvent({ key: 'src <b>&x', message: 'a <script> & b' }), 'slack');
    expect(out.headers).to.deep.equal({ 'content-type': 'application/json' });
    expect(out.payload.text).to.equal('HIGH port-scan on src <b>&x: a <script> & b');
    const [header, message, fields, findings, context] = out.payload.blocks;
    expect(header).to.deep.equal({ type: 'header', text: { type: 'plain_text', text: 'HIGH port-scan on src <b>&x' } });
    expect(message.text).to.deep.equal({ type: 'mrkdwn', text: 'a &lt;script&gt; &amp; b' });
    expect(fields.fields.length).to.be.within(1, 10);
    expect(fields.fields.every((f) => f.type === 'mrkdwn' && f.text.length <= 2000)).to.equal(true);
    expect(findings.text.text.split('\n')).to.have.length(2);
    expect(context.elements[0].text).to.equal(SIGNAL_NOT_VERDICT);
  });

  it('teams: one Adaptive Card 1.4 attachment with the facts; discord: content ≤ 2000, one embed, no mentions', function () {
    const teams = formatAnomaly(scanEvent(), 'teams').payload;
    expect(teams.type).to.equal('message');
    expect(teams.attachments).to.have.length(1);
    expect(teams.attachments[0].contentType).to.equal('application/vnd.microsoft.card.adaptive');
    const card = teams.attachments[0].content;
    expect(card).to.include({ type: 'AdaptiveCard', version: '1.4' });
    const facts = card.body.find((b) => b.type === 'FactSet').facts;
    expect(facts.find((f) => f.title === 'Rule').value).to.equal('port-scan (high)');
    expect(formatAnomaly(resolved(), 'teams').payload.attachments[0].content.body[0].color).to.equal('Good');
    const discord = formatAnomaly(scanEvent({ message: 'm'.repeat(5000) }), 'discord').payload;
    expect(discord.content.length).to.equal(2000);
    expect(discord.allowed_mentions).to.deep.equal({ parse: [] });
    expect(discord.embeds).to.have.length(1);
    expect(discord.embeds[0].timestamp).to.equal('2024-05-01T10:42:17.456Z');
    expect(discord.embeds[0].color).to.equal(0xc62828);
    expect(discord.embeds[0].fields.every((f) => f.value.length <= 1024 && f.name.length <= 256)).to.equal(true);
  });

  // RFC 5424 §6: SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]; HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
  const RFC5424 = /^<(\d{1,3})>1 (\S+) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) (\[([\x21-\x7e]+?)((?: [^= \]"]+="(?:[^"\\\]]|\\["\\\]])*")*)\]) \uFEFF(.*)$/;

  it('syslog: an RFC 5424 line with PRI from facility and severity, packet time, escaped structured data', function () {
    const line = formatAnomaly(scanEvent({ key: 'src "x"]\\', message: 'two\nlines' }), 'syslog', { hostname: 'sensor 1', facility: 16 }).payload;
    const m = RFC5424.exec(line);
    expect(m, line).to.not.equal(null);
    expect(Number(m[1])).to.equal(16 * 8 + 4); // local0, warning (high)
    expect(m[2]).to.equal('2024-05-01T10:42:17.456Z');
    expect(m[3]).to.equal('sensor1'); // no spaces in HOSTNAME
    expect(m[4]).to.equal('netbaseline');
    expect(m[6]).to.equal('ANOMALY');
    expect(m[8]).to.equal(SYSLOG_SD_ID);
    expect(m[9]).to.include(' key="src \\"x\\"\\]\\\\"');
    expect(m[9]).to.include(' srcIp="10.0.0.140"');
    expect(m[10]).to.equal('two lines');
    const r = RFC5424.exec(formatAnomaly(resolved(), 'syslog', { facility: 4 }).payload);
    expect(Number(r[1])).to.equal(4 * 8 + 6); // auth, informational
    expect(r[3]).to.equal('-');
    expect(r[6]).to.equal('RESOLVED');
    expect(r[9]).to.include(' durationMs="20000"').and.include(' incident="incident|src 10.0.0.140|1"');
    expect(() => formatAnomaly(scanEvent(), 'syslog', { facility: 24 })).to.throw(/facility/);
  });

  it('cef: seven header fields, escaped pipes and backslashes, extension with escaped = and line breaks', function () {
    const line = formatAnomaly(scanEvent({ key: 'src a|b=c\\d', message: 'x=y\nz', dstIp: '10.0.0.9', dstPort: 443, protocol: 'tcp' }), 'cef').payload;
    // split the header on unescaped pipes
    const parts = line.split(/(?<!\\)\|/);
    expect(parts.slice(0, 7)).to.deep.equal(['CEF:0', 'netbaseline', 'node-red-traffic-anomaly', '1', 'port-scan', 'port-scan on src a\\|b=c\\\\d', '8']);
    const ext = parts.slice(7).join('|');
    expect(ext).to.match(/^rt=1714560137456 src=10\.0\.0\.140 dst=10\.0\.0\.9 dpt=443 proto=TCP /);
    expect(ext).to.include(' cs1Label=key cs1=src a|b\\=c\\\\d ');
    expect(ext).to.include(' cn1Label=value cn1=1000 cn2Label=threshold cn2=100 ');
    expect(ext.endsWith(' msg=x\\=y z')).to.equal(true); // the message is folded to one line first
    expect(formatAnomaly(resolved(), 'cef').payload.split('|').slice(4, 7)).to.deep.equal(['port-scan:resolved', 'Resolved: port-scan on src 10.0.0.140', '1']);
  });

  it('formats a maintenance summary from cooldown-gate in every shape', function () {
    const summary = { kind: 'netbaseline/maintenance-summary', version: 1, start: TIME, end: TIME + 60_000, reason: 'manual', held: 7, resolvedHeld: 0, byRule: { spike: 7 }, keys: ['dst a'], keyCount: 1, stillOpen: 0, message: 'Maintenance (manual) …: 7 alerts held back' };
    for (const shape of ['text', 'json', 'email', 'mqtt', 'slack', 'teams', 'discord', 'syslog', 'cef']) {
      const out = formatAnomaly(summary, shape);
      expect(JSON.stringify(out.payload), shape).to.include('7 alerts held back');
    }
    expect(formatAnomaly(summary, 'email').topic).to.equal('[netbaseline] Maintenance ended: 7 alerts held back');
    expect(RFC5424.test(formatAnomaly(summary, 'syslog').payload)).to.equal(true);
  });
});

describe('formatter: FlowFuse Dashboard 2 shapes', function () {
  const {
    dashboardTableRows, dashboardChartPoints, formatMessages, DASHBOARD_COLORS, DEFAULT_CHART_METRIC, FORMAT_SHAPES,
  } = require('../../dist/core/formatter');
  const { ContractError } = require('../../dist/core/contracts');

  /** A dual-EWMA flood on a web server: a dstHost key with a mature baseline. */
  function floodEvent(over = {}) {
    const base = { fast: 20, slow: 15, mean: 15, std: 3, samples: 60, state: 'mature' };
    return {
      kind: 'netbaseline/anomaly', version: 1, id: `dual-ewma|dst 192.168.10.5|${TIME + 50_000}`, status: 'firing',
      time: TIME + 60_000, window: { start: TIME + 50_000, end: TIME + 60_000, ms: 10_000 },
      rule: 'dual-ewma', severity: 'medium', scope: 'dstHost', key: 'dst 192.168.10.5', dstIp: '192.168.10.5',
      metric: 'synCount', value: 10_013, threshold: 75, baseline: base, deviationPercent: 66_653,
      message: 'dst 192.168.10.5 got 10,013 SYNs',
      findings: [
        { rule: 'dual-ewma', severity: 'medium', metric: 'synCount', value: 10_013, threshold: 75, baseline: base, deviationPercent: 66_653, explanation: '' },
        { rule: 'dual-ewma', severity: 'medium', metric: 'packetsPerSecond', value: 1006.5, threshold: 40, baseline: { ...base, fast: 8, slow: 7, mean: 7, std: 1 }, deviationPercent: 14_279, explanation: '' },
      ],
      source: 'demo.pcap', firstSeen: TIME + 50_000, suppressedCount: 2, ...over,
    };
  }

  it('lists the three dashboard shapes', function () {
    expect(FORMAT_SHAPES).to.include.members(['dashboard-table', 'dashboard-notification', 'dashboard-chart']);
  });

  describe('dashboard-table', function () {
    it('one row per open anomaly: high before medium, then the latest first; resolved entries skipped', function () {
      const olderHigh = scanEvent({ time: TIME, firstSeen: TIME - 30_000 });
      const newerMedium = floodEvent();
      const otherMedium = floodEvent({ key: 'dst 192.168.10.7', dstIp: '192.168.10.7', time: TIME + 20_000 });
      const resolved = floodEvent({ key: 'dst 192.168.10.9', dstIp: '192.168.10.9', status: 'resolved' });
      const rows = dashboardTableRows([otherMedium, resolved, newerMedium, olderHigh]);
      expect(rows.map((r) => r.key)).to.deep.equal(['src 10.0.0.140', 'dst 192.168.10.5', 'dst 192.168.10.7']);
      expect(rows.map((r) => r.id)).to.deep.equal(['port-scan|src 10.0.0.140', 'dual-ewma|dst 192.168.10.5', 'dual-ewma|dst 192.168.10.7']);
    });

    it('a row carries the numbers, their text with units, the times in packet time and what to act on', function () {
      const [scan, flood] = dashboardTableRows([scanEvent({ firstSeen: TIME - 30_000, suppressedCount: 3, incident: { id: 'incident|src 10.0.0.140|1' } }), floodEvent()]);
      expect(scan).to.include({
        severity: 'high', color: DASHBOARD_COLORS.high, rule: 'port-scan', scope: 'srcHost', key: 'src 10.0.0.140',
        address: '10.0.0.140', cidr: '10.0.0.140/32', metric: 'distinctDstPorts', value: 1000, valueText: '1,000 ports',
        threshold: 100, thresholdText: '100 ports', baselineText: 'none', deviationPercent: 900, deviationText: '+900%',
        since: '2024-05-01T10:41:47Z', last: '2024-05-01T10:42:17Z', time: TIME, heldBack: 3, findings: 2,
        incident: 'incident|src 10.0.0.140|1', message: 'src 10.0.0.140 sent SYNs to 1,000 ports on 3 hosts',
      });
      // a dstHost key stands for its destination; the baseline is the slow EWMA ± σ with its state
      expect(flood).to.include({ address: '192.168.10.5', cidr: '192.168.10.5/32', color: DASHBOARD_COLORS.medium, valueText: formatMetricValue('synCount', 10_013) });
      expect(flood.baselineText).to.match(/^15 .*±3 .*\(mature\)$/);
      expect(flood.since).to.equal(formatTime(TIME + 50_000));
    });

    it('address and prefix: IPv6 /128, IPv4-mapped as IPv4 /32, flows and host pairs by their source, services by the server, a subnet by its prefix, none for an interface', function () {
      const rows = dashboardTableRows([
        floodEvent({ key: 'dst [2001:db8::5]', dstIp: '2001:db8::5', time: 8 }),
        floodEvent({ key: 'dst ::ffff:10.1.2.3', dstIp: '::ffff:10.1.2.3', time: 7 }),
        floodEvent({ scope: 'flow', key: 'tcp 10.0.0.1:5000 > 10.0.0.2:80', srcIp: '10.0.0.1', dstIp: '10.0.0.2', time: 6 }),
        floodEvent({ scope: 'hostPair', key: '10.0.0.3 > 10.0.0.4', srcIp: '10.0.0.3', dstIp: '10.0.0.4', time: 5 }),
        floodEvent({ scope: 'service', key: '10.0.0.5:443/tcp', dstIp: '10.0.0.5', dstPort: 443, time: 4 }),
        floodEvent({ scope: 'subnet', key: 'dst 10.9.0.0/24', dstIp: undefined, time: 3 }),
        floodEvent({ scope: 'subnet', key: 'src 2001:db8::/64', dstIp: undefined, time: 2 }),
        floodEvent({ scope: 'interface', key: 'iface eth0', dstIp: undefined, time: 1 }),
      ]);
      expect(rows.map((r) => [r.address, r.cidr])).to.deep.equal([
        ['2001:db8::5', '2001:db8::5/128'], ['::ffff:10.1.2.3', '10.1.2.3/32'], ['10.0.0.1', '10.0.0.1/32'], ['10.0.0.3', '10.0.0.3/32'],
        ['10.0.0.5', '10.0.0.5/32'], ['10.9.0.0', '10.9.0.0/24'], ['2001:db8::', '2001:db8::/64'], ['', ''],
      ]);
    });

    it('an empty list is an empty table; line breaks in event text are folded', function () {
      expect(dashboardTableRows([])).to.deep.equal([]);
      const [row] = dashboardTableRows([scanEvent({ message: 'line one\nline two' })]);
      expect(row.message).to.equal('line one line two');
    });

    it('a single event is refused, saying where the list comes from (it would replace the whole table)', function () {
      expect(() => dashboardTableRows(scanEvent())).to.throw(ContractError, /msg\.query = "open"/);
      expect(() => formatAnomaly(scanEvent(), 'dashboard-table')).to.throw(ContractError, /array/);
      expect(() => formatMessages(scanEvent(), 'dashboard-table')).to.throw(ContractError, /cooldown-gate/);
      expect(() => dashboardTableRows([scanEvent(), { kind: 'netbaseline/anomaly' }])).to.throw(ContractError, /open anomalies\[1\]: anomaly: key must be a string/);
    });

    it('formatMessages: one message whose payload is the rows', function () {
      const out = formatMessages([scanEvent()], 'dashboard-table');
      expect(out).to.have.length(1);
      expect(out[0].topic).to.equal('netbaseline/open-anomalies');
      expect(out[0].payload.map((r) => r.key)).to.deep.equal(['src 10.0.0.140']);
    });
  });

  describe('dashboard-notification', function () {
    it('one plain line with severity, rule and key, coloured by severity', function () {
      const high = formatAnomaly(scanEvent(), 'dashboard-notification');
      expect(high.payload).to.equal('HIGH port-scan on src 10.0.0.140: src 10.0.0.140 sent SYNs to 1,000 ports on 3 hosts');
      expect(high.uiUpdate).to.deep.equal({ color: DASHBOARD_COLORS.high });
      expect(high.topic).to.equal('netbaseline/high/srcHost/src_10.0.0.140');
      const medium = formatAnomaly(floodEvent(), 'dashboard-notification');
      expect(medium.payload).to.equal('MEDIUM dual-ewma on dst 192.168.10.5: dst 192.168.10.5 got 10,013 SYNs · 2 repeats held back');
      expect(medium.uiUpdate.color).to.equal(DASHBOARD_COLORS.medium);
    });

    it('resolved is green and says RESOLVED; a maintenance summary is blue', function () {
      const done = formatAnomaly(floodEvent({ status: 'resolved', message: 'resolved after 10 s' }), 'dashboard-notification');
      expect(done.payload).to.equal('RESOLVED dual-ewma on dst 192.168.10.5: resolved after 10 s');
      expect(done.uiUpdate.color).to.equal(DASHBOARD_COLORS.resolved);
      const summary = { kind: 'netbaseline/maintenance-summary', version: 1, start: TIME, end: TIME + 60_000, reason: 'manual', held: 7, message: '7 alerts held back' };
      const m = formatAnomaly(summary, 'dashboard-notification');
      expect(m.payload).to.equal('Maintenance ended: 7 alerts held back');
      expect(m.uiUpdate.color).to.equal(DASHBOARD_COLORS.maintenance);
      expect(() => formatMessages(summary, 'dashboard-table')).to.throw(ContractError, /dashboard-notification/);
    });

    it('is one line of at most 300 characters', function () {
      const n = formatAnomaly(scanEvent({ message: `a\nb ${'x'.repeat(1000)}` }), 'dashboard-notification');
      expect(n.payload).to.have.length(300);
      expect(n.payload).to.not.match(/\n/);
      expect(n.payload.endsWith('…')).to.equal(true);
    });
  });

  describe('dashboard-chart', function () {
    /** A window as ewma-baseline annotates it: the flood key with a baseline, another key, one without a baseline. */
    function window(over = {}) {
      return {
        kind: 'netbaseline/window', version: 1, source: 'demo.pcap', windowStart: TIME, windowEnd: TIME + 10_000, windowMs: 10_000,
        gapBeforeMs: 0, final: false, counters: {},
        records: [
          { scope: 'dstHost', key: 'dst 192.168.10.7', windowStart: TIME, windowEnd: TIME + 10_000, metrics: { packetsPerSecond: 3, synCount: 1 } },
          { scope: 'dstHost', key: 'dst 192.168.10.5', windowStart: TIME, windowEnd: TIME + 10_000, metrics: { packetsPerSecond: 1006.5, synCount: 10_013 },
            baseline: { state: 'mature', firstSeen: TIME - 600_000, samples: 60, metrics: { packetsPerSecond: { fast: 8, slow: 7.25, mean: 7.25, std: 1, samples: 60 } } } },
        ],
        ...over,
      };
    }

    it('a window: the chosen key\'s value and its slow EWMA at the window end', function () {
      expect(DEFAULT_CHART_METRIC).to.equal('packetsPerSecond');
      expect(dashboardChartPoints(window(), { chartKey: 'dst 192.168.10.5' })).to.deep.equal([
        { series: 'dst 192.168.10.5 packetsPerSecond', x: TIME + 10_000, y: 1006.5 },
        { series: 'dst 192.168.10.5 baseline', x: TIME + 10_000, y: 7.25 },
      ]);
      // a metric without a baseline yet: the value only
      expect(dashboardChartPoints(window(), { chartKey: 'dst 192.168.10.5', chartMetric: 'synCount' })).to.deep.equal([
        { series: 'dst 192.168.10.5 synCount', x: TIME + 10_000, y: 10_013 },
      ]);
      // the key is not in this window: a gap, no points
      expect(dashboardChartPoints(window(), { chartKey: 'dst 10.9.9.9' })).to.deep.equal([]);
    });

    it('a window needs a chosen key; a malformed window is refused', function () {
      expect(() => dashboardChartPoints(window())).to.throw(ContractError, /chartKey/);
      expect(() => dashboardChartPoints(window({ records: 'x' }), { chartKey: 'a' })).to.throw(ContractError, /records must be an array/);
      expect(() => dashboardChartPoints({ kind: 'something' })).to.throw(ContractError);
    });

    it('an anomaly: value, baseline and threshold at its packet time; filtered by key and metric', function () {
      expect(dashboardChartPoints(floodEvent())).to.deep.equal([
        { series: 'dst 192.168.10.5 synCount', x: TIME + 60_000, y: 10_013 },
        { series: 'dst 192.168.10.5 baseline', x: TIME + 60_000, y: 15 },
        { series: 'dst 192.168.10.5 threshold', x: TIME + 60_000, y: 75 },
      ]);
      expect(dashboardChartPoints(floodEvent(), { chartMetric: 'packetsPerSecond' }).map((p) => p.y)).to.deep.equal([1006.5, 7, 40]);
      expect(dashboardChartPoints(floodEvent(), { chartKey: 'dst 192.168.10.7' })).to.deep.equal([]);
      expect(dashboardChartPoints(floodEvent(), { chartMetric: 'bitsPerSecond' })).to.deep.equal([]);
      expect(dashboardChartPoints(floodEvent({ status: 'resolved' }))).to.deep.equal([]);
      // port-scan has no baseline: value and threshold
      expect(dashboardChartPoints(scanEvent()).map((p) => p.series)).to.deep.equal(['src 10.0.0.140 distinctDstPorts', 'src 10.0.0.140 threshold']);
    });

    it('formatMessages: one message per point, topic = series, payload = { x, y }', function () {
      const out = formatMessages(window(), 'dashboard-chart', { chartKey: 'dst 192.168.10.5' });
      expect(out).to.deep.equal([
        { topic: 'dst 192.168.10.5 packetsPerSecond', payload: { x: TIME + 10_000, y: 1006.5 } },
        { topic: 'dst 192.168.10.5 baseline', payload: { x: TIME + 10_000, y: 7.25 } },
      ]);
      expect(() => formatAnomaly(floodEvent(), 'dashboard-chart')).to.throw(ContractError, /formatMessages/);
    });
  });
});
