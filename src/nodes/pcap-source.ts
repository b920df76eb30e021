/**
 * Node-RED glue of the `pcap-source` node: replays a capture file or captures live, and sends
 * {@link PacketBatch}es on output 1 and events (replay-complete, error, capture-stats) on output 2.
 * The behaviour lives in `core/replay`, `core/live-capture`, `core/decoder` and `core/capture-file`.
 */
import * as path from 'path';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { statusOk, statusIdle, statusWarn, statusError, rejectInput, compactNumber, errorMessage, shorten } from './glue';
import { replayCaptureFile, resolveCapturePath, parseSpeed, type ReplaySpeed, type ReplaySummary, type ReplayProgress } from '../core/replay';
import { LiveCapture, type LiveCaptureStats } from '../core/live-capture';
import type { PacketBatch } from '../core/contracts';

/** Editor fields (strings or booleans as the editor stores them). */
interface PcapSourceNodeDef extends NodeDef {
  mode?: string;
  filename?: string;
  iface?: string;
  filter?: string;
  snapLength?: string | number;
  promiscuous?: boolean | string;
  batchSize?: string | number;
  speed?: string | number;
  startOnDeploy?: boolean | string;
}

/** Parsed configuration. */
interface PcapSourceConfig {
  mode: 'file' | 'live';
  filename: string;
  iface: string;
  filter: string;
  snapLength: number;
  promiscuous: boolean;
  batchSize: number;
  speed: ReplaySpeed;
  startOnDeploy: boolean;
}

const STATUS_INTERVAL_MS = 250;
const STATS_EVENT_INTERVAL_MS = 10_000;

function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  return value === true || value === 'true';
}

function integer(value: unknown, fallback: number, min: number, max: number, what: string): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses the editor config. @throws {Error} naming the bad field. */
function parseConfig(c: PcapSourceNodeDef): PcapSourceConfig {
  const mode = c.mode === undefined || c.mode === '' ? 'file' : c.mode;
  if (mode !== 'file' && mode !== 'live') throw new Error(`mode must be "file" or "live", got ${JSON.stringify(c.mode)}`);
  return {
    mode,
    filename: (c.filename ?? '').trim(),
    iface: (c.iface ?? '').trim(),
    filter: (c.filter ?? '').trim(),
    snapLength: integer(c.snapLength, 262144, 64, 262144, 'snap length (bytes)'),
    promiscuous: bool(c.promiscuous, true),
    batchSize: integer(c.batchSize, 4096, 1, 1_000_000, 'batch size (packets)'),
    speed: parseSpeed(c.speed),
    startOnDeploy: bool(c.startOnDeploy, true),
  };
}

/** Packet time as UTC HH:MM:SS. */
function clockText(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '--:--:--';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '--:--:--' : d.toISOString().slice(11, 19);
}

/**
 * Registers the `pcap-source` node type. Config: mode (`file` | `live`), file path (relative paths are
 * looked up in the current directory, Node-RED's userDir, then this package's root), interface, BPF
 * filter, snap length (bytes), promiscuous, batch size (packets), speed (`max` | `realtime` | ×N) and
 * start on deploy. Input: `msg.payload` "start" / "stop", `msg.filename` (replay that file).
 * Output 1: `{ topic: source, payload: PacketBatch }`; output 2: `{ payload: { event, … } }` with event
 * `replay-complete` (summary), `error` (message), `capture-stats` (every 10 s) or `capture-stopped`.
 */
export = function (RED: NodeAPI): void {
  function PcapSourceNode(this: Node, def: PcapSourceNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const packageRoot = path.resolve(__dirname, '..', '..');
    const settings = RED.settings as unknown as { userDir?: string };
    const searchDirs = [process.cwd(), settings.userDir, packageRoot].filter((d): d is string => typeof d === 'string' && d !== '');

    let config: PcapSourceConfig | null = null;
    let configError: string | null = null;
    try {
      config = parseConfig(def);
    } catch (err) {
      configError = errorMessage(err);
    }

    let closing = false;
    let replay: { controller: AbortController; finished: Promise<void> } | null = null;
    let capture: LiveCapture | null = null;
    let statsTimer: NodeJS.Timeout | null = null;
    let chain: Promise<void> = Promise.resolve();

    const sendEvent = (payload: Record<string, unknown>, topic: string): void => {
      if (closing) return;
      node.send([null, { topic, payload } as NodeMessage]);
    };

    /** An error outside an input: red status, node.error (with a message, so it reaches Catch nodes), event. */
    const reportError = (message: string, topic: string): void => {
      if (closing) return;
      node.status(statusError(message));
      const payload = { event: 'error', message };
      node.error(message, { topic, payload } as NodeMessage);
      sendEvent(payload, topic);
    };

    /** Runs start/stop operations one after the other: a new replay starts after the old one ended. */
    const enqueue = (op: () => Promise<void> | void): void => {
      const topic = config?.mode === 'live' ? config.iface : config?.filename ?? '';
      chain = chain.then(op).catch((err) => reportError(errorMessage(err), topic));
    };

    const stopRunning = async (): Promise<void> => {
      if (replay) {
        const r = replay;
        r.controller.abort();
        await r.finished;
        if (replay === r) replay = null;
      }
      if (capture) {
        const c = capture;
        capture = null;
        if (statsTimer) { clearInterval(statsTimer); statsTimer = null; }
        c.stop(); // sends the final batch
        sendEvent({ event: 'capture-stopped', interface: config?.iface, stats: c.stats() }, config?.iface ?? '');
        if (!closing) node.status(statusIdle('stopped'));
      }
    };

    const startReplay = async (file: string, source: string): Promise<void> => {
      await stopRunning();
      if (closing || !config) return;
      const controller = new AbortController();
      let lastStatus = 0;
      let packets = 0;
      node.status(statusOk(`replay 0% · 0 pkts · ${clockText(null)}`));
      const onBatch = (batch: PacketBatch, progress: ReplayProgress): void => {
        if (closing) return;
        packets = progress.packetsRead;
        node.send([{ topic: source, payload: batch } as NodeMessage, null]);
        const now = Date.now();
        if (!batch.final && now - lastStatus >= STATUS_INTERVAL_MS) {
          lastStatus = now;
          const pct = progress.fileSize > 0 ? Math.floor((progress.bytesParsed / progress.fileSize) * 100) : 100;
          node.status(statusOk(`replay ${pct}% · ${compactNumber(packets)} pkts · ${clockText(progress.lastPacketMs)}`));
        }
      };
      const finished = replayCaptureFile(file, {
        batchSize: config.batchSize,
        speed: config.speed,
        signal: controller.signal,
        source,
        onBatch,
        onWarning: (message) => { if (!closing) node.warn(`${source}: ${message}`); },
      }).then((summary: ReplaySummary) => {
        if (closing) return;
        if (summary.error !== undefined) {
          reportError(summary.error, source);
        } else if (summary.truncated) {
          node.status(statusWarn(`truncated: kept ${compactNumber(summary.packetsRead)} pkts`));
        } else if (summary.aborted) {
          node.status(statusIdle(`stopped · ${compactNumber(summary.packetsRead)} pkts`));
        } else {
          node.status(statusOk(`done · ${compactNumber(summary.packetsRead)} pkts`));
        }
        sendEvent({ event: 'replay-complete', summary }, source);
      }, (err: unknown) => {
        reportError(errorMessage(err), source);
      });
      replay = { controller, finished };
    };

    const startLive = async (): Promise<void> => {
      await stopRunning();
      if (closing || !config) return;
      const cfg = config;
      let windowStart = Date.now();
      let windowPackets = 0;
      let lastRead = 0;
      const c = new LiveCapture({
        interface: cfg.iface,
        filter: cfg.filter,
        snapLength: cfg.snapLength,
        promiscuous: cfg.promiscuous,
        batchSize: cfg.batchSize,
        onBatch: (batch) => {
          if (closing) return;
          node.send([{ topic: cfg.iface, payload: batch } as NodeMessage, null]);
          windowPackets += batch.counters.packetsRead - lastRead; // counters are cumulative
          lastRead = batch.counters.packetsRead;
          const now = Date.now();
          if (!batch.final && now - windowStart >= 1000) {
            node.status(statusOk(`${cfg.iface} · ${compactNumber((windowPackets * 1000) / (now - windowStart))} pps`));
            windowStart = now;
            windowPackets = 0;
          }
        },
        onError: (err) => reportError(errorMessage(err), cfg.iface),
      });
      c.start(); // throws LiveCaptureError with an actionable message
      capture = c;
      node.status(statusOk(`${cfg.iface} · 0 pps`));
      statsTimer = setInterval(() => {
        const stats: LiveCaptureStats | null = c.stats();
        if (stats) sendEvent({ event: 'capture-stats', interface: cfg.iface, stats }, cfg.iface);
      }, STATS_EVENT_INTERVAL_MS);
    };

    const startConfigured = (): void => {
      if (!config) return;
      if (config.mode === 'live') {
        enqueue(startLive);
      } else {
        const file = resolveCapturePath(config.filename, searchDirs);
        const source = config.filename;
        enqueue(() => startReplay(file, source));
      }
    };

    if (configError !== null) {
      node.status(statusError(configError));
      node.error(`pcap-source configuration: ${configError}`);
    } else if (config) {
      if (config.startOnDeploy && (config.mode === 'live' || config.filename !== '')) {
        try {
          startConfigured();
        } catch (err) {
          reportError(errorMessage(err), config.filename);
        }
      } else if (config.mode === 'file') {
        node.status(statusIdle(config.filename ? 'ready: send "start"' : 'no file: send msg.filename'));
      } else {
        node.status(statusIdle(`${config.iface}: send "start"`));
      }
    }

    node.on('input', (msg: NodeMessageInFlow, _send, done) => {
      try {
        if (configError !== null || !config) throw new Error(`configuration: ${configError}`);
        const m = msg as NodeMessageInFlow & { filename?: unknown };
        if (m.filename !== undefined) {
          if (config.mode !== 'file') throw new Error('msg.filename needs the node in file mode');
          if (typeof m.filename !== 'string') throw new Error('msg.filename must be a string (path of a pcap or pcapng file)');
          const file = resolveCapturePath(m.filename, searchDirs);
          const source = m.filename;
          enqueue(() => startReplay(file, source));
        } else if (m.payload === 'start') {
          startConfigured();
        } else if (m.payload === 'stop') {
          enqueue(stopRunning);
        } else {
          throw new Error('expected msg.payload "start" or "stop", or msg.filename');
        }
        done();
      } catch (err) {
        const message = errorMessage(err);
        sendEvent({ event: 'error', message }, config?.filename ?? '');
        rejectInput(node, new Error(shorten(message, 500)), done);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      if (statsTimer) { clearInterval(statsTimer); statsTimer = null; }
      const r = replay;
      replay = null;
      r?.controller.abort();
      if (capture) { const c = capture; capture = null; c.stop(); }
      const finish = (): void => done();
      Promise.all([r ? r.finished : Promise.resolve(), chain]).then(finish, finish);
    });
  }

  RED.nodes.registerType('pcap-source', PcapSourceNode);
};
