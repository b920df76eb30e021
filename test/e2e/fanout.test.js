'use strict';
/**
 * End to end, alert fan-out: the examples email-alerts, mqtt-alerts and http-api deployed into a real
 * Node-RED (4 or 5, see scripts/test.js) with this package and node-red-node-email installed, each
 * against its real counterpart:
 *  - e-mail: an `smtp-server` on 127.0.0.1 receives what node-red-node-email's e-mail node sends;
 *  - MQTT: an `aedes` broker on 127.0.0.1 and a separate `mqtt` client subscribed to netbaseline/#;
 *  - HTTP: `fetch` on Node-RED's own http-in nodes: GET /anomalies and a Server-Sent Events stream.
 * Each test deploys a copy of the example with only the counterpart's address (and, for MQTT, the
 * capture source) changed, and replays the bundled demo capture: a port scan at 10:05 and a SYN
 * flood on 192.168.10.5 at 10:08 that lasts one 10 s window.
 */
const { expect } = require('chai');
const { spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { SMTPServer } = require('smtp-server');
const mqtt = require('mqtt');
const { NodeRedProcess, useNodeRed } = require('../support/node-red-process');

// mailparser as node-red-node-email bundles it (its IMAP/POP3 node parses mail with it)
const { simpleParser } = require('mailparser');

const runtime = { node: process.env.E2E_NODE, red: process.env.E2E_RED, userDir: process.env.E2E_USERDIR };
const label = process.env.E2E_LABEL || 'Node-RED';
const root = path.resolve(__dirname, '..', '..');
const examplesDir = path.join(root, 'examples');
const demo = path.join(examplesDir, 'demo-scan-and-flood.pcap');
const VICTIM = '192.168.10.5';

const example = (name) => JSON.parse(fs.readFileSync(path.join(examplesDir, name), 'utf8'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Ground truth from Wireshark, not from our code: the most TCP SYNs (SYN set, ACK clear) sent to
 * the victim within one 10 s window aligned to the epoch, as `tshark` counts them; null without tshark.
 */
function tsharkPeakSyns() {
  const r = spawnSync('tshark', ['-r', demo, '-Y', `ip.dst==${VICTIM} && tcp.flags.syn==1 && tcp.flags.ack==0`, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return null;
  const perWindow = new Map();
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const w = Math.floor(Number(line) / 10);
    perWindow.set(w, (perWindow.get(w) || 0) + 1);
  }
  return Math.max(...perWindow.values());
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // an SMTPServer wraps its net.Server as .server
    server.listen(0, '127.0.0.1', () => resolve((server.server || server).address().port));
  });
}

describe(`alert fan-out on ${label}`, function () {
  const nodeRed = useNodeRed(runtime);
  /** @type {NodeRedProcess} */
  let red;
  beforeEach(function () { red = nodeRed(); });

  async function inject(id) {
    const r = await fetch(`${red.base}/inject/${id}`, { method: 'POST' });
    expect(r.status, `POST /inject/${id}`).to.equal(200);
  }

  it('email: a flood replay is one e-mail per incident and one resolved e-mail, received by a real SMTP server', async function () {
    const mails = [];
    const smtp = new SMTPServer({
      authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
      onData(stream, session, callback) {
        simpleParser(stream).then((mail) => {
          mails.push({ mail, from: session.envelope.mailFrom && session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address) });
          callback();
        }, callback);
      },
    });
    const port = await listen(smtp);
    try {
      const flow = example('email-alerts.json');
      const mailNode = flow.find((n) => n.type === 'e-mail');
      expect(mailNode, 'the example has an e-mail node').to.exist;
      Object.assign(mailNode, { server: '127.0.0.1', port: String(port) });
      const before = red.log.length;
      await red.deploy(flow);
      await inject(flow.find((n) => n.type === 'inject').id);
      const subjects = () => mails.map((m) => m.mail.subject);
      await NodeRedProcess.waitFor(() => subjects().some((s) => s === `[netbaseline] RESOLVED dual-ewma on dst ${VICTIM}`), 60_000, 'the resolved e-mail of the flood');
      await sleep(1000); // anything sent late would show up now

      expect(red.log.slice(before).filter((l) => /\[error\]/.test(l)), 'no errors in the log').to.deep.equal([]);
      const flood = mails.filter((m) => m.mail.subject.includes(`dst ${VICTIM}`));
      expect(flood.map((m) => m.mail.subject), 'one page and one resolution for the flood, not one per window').to.deep.equal([
        `[netbaseline] HIGH dual-ewma on dst ${VICTIM}`,
        `[netbaseline] RESOLVED dual-ewma on dst ${VICTIM}`,
      ]);
      for (const m of mails) {
        expect(m.from).to.equal('netbaseline@example.com');
        expect(m.to).to.deep.equal(['security@example.com']);
      }
      // every incident: exactly one firing and one resolved e-mail
      const byIncident = new Map();
      for (const m of mails) {
        const id = /^Incident: +(incident\|.+?\|\d+(?:#\d+)?):/m.exec(m.mail.text);
        expect(id, `incident line in "${m.mail.subject}"`).to.not.equal(null);
        const kind = /RESOLVED/.test(m.mail.subject) ? 'resolved' : 'firing';
        const counts = byIncident.get(id[1]) || { firing: 0, resolved: 0 };
        counts[kind]++;
        byIncident.set(id[1], counts);
      }
      for (const [id, counts] of byIncident) expect(counts, id).to.deep.equal({ firing: 1, resolved: 1 });

      const [page, done] = flood.map((m) => m.mail);
      if (process.env.FANOUT_DEBUG) console.log(`${page.text}\n----\n${done.text}`);
      expect(page.text).to.match(new RegExp(`^Key: +dst ${VICTIM.replace(/\./g, '\\.')} \\(scope dstHost\\)$`, 'm'));
      expect(page.text).to.match(/^When \(packet time\): +2026-01-15T10:08:10Z$/m);
      expect(page.html).to.match(/<table style="border-collapse:collapse"><thead><tr><th[^>]*>Rule<\/th>/);
      expect(page.html).to.include('<td style="padding:2px 8px">synCount</td>');
      expect(page.text).to.include('An alert is a signal to investigate, not a verdict');
      const peak = tsharkPeakSyns();
      if (peak !== null) {
        // the page's synCount and the resolution's peak are what Wireshark counts in the flood window
        expect(page.text).to.match(new RegExp(`synCount +${peak.toLocaleString('en-US')} packets`));
        expect(done.text).to.match(new RegExp(`^Peak: +${peak.toLocaleString('en-US')} packets \\(synCount\\)$`, 'm'));
      } else {
        console.log('      (tshark not installed: the SYN count is not compared with Wireshark)');
      }
      // it began with the flood window and was resolved 30 s (the example's resolve period) after its last window
      const lasted = /^Lasted: +([\d.,]+) s, from (\S+) to (\S+)$/m.exec(done.text);
      expect(lasted, 'Lasted line').to.not.equal(null);
      expect(lasted[2]).to.equal('2026-01-15T10:08:00Z');
      expect(Date.parse(lasted[3]) - Date.parse(lasted[2])).to.equal(Number(lasted[1]) * 1000);
      const when = /^When \(packet time\): +(\S+)$/m.exec(done.text);
      expect(Date.parse(when[1]) - Date.parse(lasted[3])).to.equal(30_000);
    } finally {
      await new Promise((r) => smtp.close(r));
    }
  });

  it('MQTT: a separate client on a real broker receives the alert retained, then the resolved event and the clear', async function () {
    const { Aedes } = await import('aedes');
    const broker = await Aedes.createBroker();
    const published = [];
    broker.on('publish', (packet, client) => {
      if (client && packet.topic.startsWith('netbaseline/')) published.push({ topic: packet.topic, retain: packet.retain, payload: packet.payload.toString() });
    });
    const server = net.createServer(broker.handle);
    const port = await listen(server);
    const received = [];
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'netbaseline-e2e-subscriber' });
    try {
      await client.subscribeAsync('netbaseline/#', { qos: 1 });
      client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), retain: packet.retain }));
      const flow = example('mqtt-alerts.json');
      const brokerNode = flow.find((n) => n.type === 'mqtt-broker');
      Object.assign(brokerNode, { broker: '127.0.0.1', port: String(port) });
      // the example captures live; here the capture source replays the demo file so that there is a flood to see
      const src = flow.find((n) => n.type === 'pcap-source');
      Object.assign(src, { mode: 'file', filename: demo, startOnDeploy: true, speed: 'max' });
      await red.deploy(flow);
      const topic = `netbaseline/high/dstHost/dst_${VICTIM}`;
      await NodeRedProcess.waitFor(() => received.some((m) => m.topic === topic && m.payload === ''), 60_000, `the clear of ${topic}`);
      const mine = received.filter((m) => m.topic === topic);
      expect(mine.length, 'firing, resolved, clear').to.equal(3);
      const [firing, resolved, clear] = mine;
      expect(JSON.parse(firing.payload)).to.include({ status: 'firing', key: `dst ${VICTIM}`, rule: 'dual-ewma', metric: 'synCount' });
      expect(JSON.parse(resolved.payload)).to.include({ status: 'resolved', key: `dst ${VICTIM}`, resolvedReason: 'quiet', durationMs: 10_000 });
      expect(clear.payload).to.equal('');
      // as published by Node-RED's mqtt out node: the alert retained, the resolved event not, the clear retained
      expect(published.filter((p) => p.topic === topic).map((p) => [p.retain, p.payload === '' ? '' : JSON.parse(p.payload).status]))
        .to.deep.equal([[true, 'firing'], [false, 'resolved'], [true, '']]);
      // nothing stays retained once every anomaly is resolved: a client connecting now gets no retained message
      const late = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'netbaseline-e2e-late' });
      const retained = [];
      late.on('message', (t, p, packet) => { if (packet.retain) retained.push(t); });
      await late.subscribeAsync('netbaseline/#', { qos: 1 });
      await sleep(500);
      await late.endAsync();
      expect(retained).to.deep.equal([]);
    } finally {
      await red.deploy([]); // disconnect Node-RED's client before the broker goes
      await client.endAsync();
      await new Promise((r) => server.close(r));
      await new Promise((r) => broker.close(r));
    }
  });

  it('HTTP: GET /anomalies lists open anomalies with full detail and /anomalies/stream sends new and resolved ones', async function () {
    const flow = example('http-api.json');
    const gate = flow.find((n) => n.type === 'cooldown-gate');
    // resolve after 120 s of packet time (the example: 30 s), so that the scan stays open for 2 s of the 60× replay
    Object.assign(gate, { resolveAfterSeconds: 120 });
    Object.assign(flow.find((n) => n.type === 'pcap-source'), { speed: '60' });
    await red.deploy(flow);
    await sleep(500);
    const before = await fetch(`${red.base}/anomalies`);
    expect(before.status).to.equal(200);
    expect(before.headers.get('content-type')).to.match(/application\/json/);

    const controller = new AbortController();
    const stream = await fetch(`${red.base}/anomalies/stream`, { signal: controller.signal });
    expect(stream.headers.get('content-type')).to.equal('text/event-stream');
    const frames = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of stream.body) {
          buffer += decoder.decode(chunk, { stream: true });
          let i;
          while ((i = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            const f = {};
            for (const line of block.split('\n')) {
              const m = /^(event|data|id): ?(.*)$/.exec(line);
              if (m) f[m[1]] = m[2];
            }
            if (f.data) frames.push({ event: f.event, id: f.id, data: JSON.parse(f.data) });
          }
        }
      } catch (err) {
        if (err.name !== 'AbortError') throw err;
      }
    })();
    try {
      await inject(flow.find((n) => n.type === 'inject').id);
      const first = await NodeRedProcess.waitFor(() => frames.find((f) => f.event === 'firing'), 60_000, 'a firing event on the stream');
      const open = await (await fetch(`${red.base}/anomalies`)).json();
      const listed = open.find((e) => e.id === first.id);
      expect(listed, `GET /anomalies lists ${first.id} while it is open: ${JSON.stringify(open.map((e) => e.id))}`).to.exist;
      expect(listed).to.include({ kind: 'netbaseline/anomaly', status: 'firing', key: first.data.key, rule: first.data.rule });
      expect(listed.findings).to.be.an('array').that.is.not.empty;
      expect(listed.incident).to.include({ id: first.data.incident.id });
      expect(listed.firstSeen).to.equal(first.data.window.start);

      // the flood comes and goes; at the end of the capture everything is resolved
      await NodeRedProcess.waitFor(() => frames.some((f) => f.event === 'resolved' && f.data.key === `dst ${VICTIM}`), 60_000, 'the flood resolved on the stream');
      await sleep(300);
      const firing = frames.filter((f) => f.event === 'firing');
      const resolved = frames.filter((f) => f.event === 'resolved');
      expect(firing.map((f) => f.data.key)).to.include(`dst ${VICTIM}`);
      expect(resolved.map((f) => f.id).sort(), 'every firing anomaly resolved once, under its id').to.deep.equal(firing.map((f) => f.id).sort());
      for (const f of resolved) expect(f.data.status).to.equal('resolved');
      const after = await (await fetch(`${red.base}/anomalies`)).json();
      expect(after).to.deep.equal([]);
    } finally {
      controller.abort();
      await reading;
    }
  });
});
