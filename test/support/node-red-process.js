'use strict';
/**
 * Starts a real Node-RED as a child process (`node red.js --userDir …`) on 127.0.0.1 and talks to it
 * through its admin HTTP API and the editor's websocket (`/comms`), as the editor does.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const WebSocket = require('ws');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class NodeRedProcess {
  /** @param {{ node: string, red: string, userDir: string }} runtime */
  constructor(runtime) {
    this.runtime = runtime;
    this.log = [];
    this.child = null;
    this.port = 0;
  }

  get base() { return `http://127.0.0.1:${this.port}`; }

  async start() {
    this.port = await freePort();
    const settings = path.join(this.runtime.userDir, 'e2e-settings.js');
    fs.writeFileSync(settings, `module.exports = ${JSON.stringify({
      uiHost: '127.0.0.1', uiPort: this.port, flowFile: 'flows.json', credentialSecret: false,
      logging: { console: { level: 'info', metrics: false, audit: false } }, editorTheme: { tours: false },
    }, null, 2)};\n`);
    this.child = spawn(this.runtime.node, [this.runtime.red, '--userDir', this.runtime.userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk) => { for (const line of chunk.toString().split('\n')) if (line.trim()) this.log.push(line); };
    this.child.stdout.on('data', collect);
    this.child.stderr.on('data', collect);
    this.child.on('exit', (code, signal) => this.log.push(`[Node-RED process exited: code ${code}, signal ${signal}]`));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`Node-RED exited:\n${this.log.join('\n')}`);
      // the admin API answers before the flows have started: wait for both, so that the log
      // position a caller records before its own deploy comes after the start-up's "Started flows"
      if (this.startedFlowsAt(0) >= 0) {
        try {
          const r = await fetch(`${this.base}/settings`);
          if (r.ok) return;
        } catch { /* not listening yet */ }
      }
      await sleep(250);
    }
    throw new Error(`Node-RED did not answer within 60 s:\n${this.log.join('\n')}`);
  }

  get exited() { return !this.child || this.child.exitCode !== null || this.child.signalCode !== null; }

  async stop() {
    if (this.exited) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** GET an admin API path as JSON. */
  async get(p) {
    const r = await fetch(`${this.base}${p}`, { headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`GET ${p}: HTTP ${r.status}`);
    return r.json();
  }

  /**
   * Index of the first log line at or after `from` that says the flows started (or that they wait
   * for node types not installed), or -1.
   */
  startedFlowsAt(from) {
    for (let i = from; i < this.log.length; i++) if (/\] (Started flows|Waiting for missing types)/.test(this.log[i])) return i;
    return -1;
  }

  /**
   * Full deploy of `flow` (an array of nodes) through POST /flows; resolves once the runtime logs
   * that the new flows started (POST /flows answers before the nodes exist: an http-in route or
   * an inject endpoint would still answer 404).
   */
  async deploy(flow) {
    const before = this.log.length;
    const r = await fetch(`${this.base}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flow),
    });
    if (r.status !== 200 && r.status !== 204) throw new Error(`POST /flows: HTTP ${r.status} ${await r.text()}`);
    await NodeRedProcess.waitFor(() => this.startedFlowsAt(before) >= 0, 30_000, 'the deployed flows to start ("Started flows" in the log)');
  }

  /** Opens the editor's websocket and collects messages of `topic` (e.g. 'debug', 'status/#'). */
  async subscribe(topic) {
    const ws = new WebSocket(`ws://127.0.0.1:${this.port}/comms`);
    const messages = [];
    ws.on('message', (data) => {
      for (const m of JSON.parse(data.toString())) messages.push(m);
    });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(JSON.stringify({ subscribe: topic }));
    return { messages, close: () => ws.close() };
  }

  /** Polls `predicate` until it returns a truthy value or `timeoutMs` passes. */
  static async waitFor(predicate, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = predicate();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(100);
    }
  }
}

/**
 * Mocha hooks for a describe block that shares one Node-RED: started before its tests, its log
 * printed after a failed test, stopped at the end. Returns a getter for the running process.
 * @param {{ node?: string, red?: string, userDir?: string }} runtime
 */
function useNodeRed(runtime) {
  /** @type {NodeRedProcess | undefined} */
  let red;
  before(async function () {
    if (!runtime.node || !runtime.red || !runtime.userDir) throw new Error('run through `npm test` (scripts/test.js), which prepares the runtime');
    red = new NodeRedProcess(runtime);
    await red.start();
  });
  afterEach(function () {
    if (this.currentTest && this.currentTest.state === 'failed' && red) {
      console.log(`--- Node-RED log (last 60 lines) ---\n${red.log.slice(-60).join('\n')}\n---`);
    }
  });
  after(async function () {
    if (red) await red.stop();
  });
  return () => red;
}

module.exports = { NodeRedProcess, freePort, useNodeRed };
