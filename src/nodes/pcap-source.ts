/**
 * Node-RED glue of the `pcap-source` node: replays a capture file (or a folder of them) or captures
 * live, and sends {@link PacketBatch}es on output 1 and events (replay-complete, file-complete, error,
 * capture-stats, capture-stopped) on output 2. Registers two admin HTTP endpoints for the editor
 * (interfaces, BPF filter check). The behaviour lives in `core/replay`, `core/live-capture`,
 * `core/decoder` and `core/capture-file`.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { NodeAPI, Node, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { statusOk, statusIdle, statusWarn, statusError, rejectInput, compactNumber, errorMessage, shorten, catalogue, resolveSettings, type SettingType, type Translate } from './glue';
import {
  replayCaptureFile, resolveCapturePath, parseSpeed, listCaptureFolder, sumReplaySummaries, ReplayGate,
  type ReplaySpeed, type ReplaySummary, type ReplayProgress,
} from '../core/replay';
import {
  LiveCapture, LiveCaptureError, listInterfaceDetails, checkBpfFilter, filterLinkTypeFor,
  DEFAULT_SNAP_LENGTH, DEFAULT_FLUSH_INTERVAL_MS, type LiveCaptureStats,
} from '../core/live-capture';
import { isSupportedLinkType, supportedLinkTypesText } from '../core/decoder';
import type { PacketBatch } from '../core/contracts';

/** Editor fields (strings or booleans as the editor stores them). */
interface PcapSourceNodeDef extends NodeDef {
  mode?: string;
  filename?: string;
  /** Where {@link filename} comes from (TypedInput): typed in (`str`), `env`, `flow` or `global`. */
  filenameType?: SettingType;
  /** Interface name; `${VAR}` is replaced from the environment by Node-RED when the flow starts. */
  iface?: string;
  filter?: string;
  snapLength?: string | number;
  bufferSizeMiB?: string | number;
  promiscuous?: boolean | string;
  batchSize?: string | number;
  flushIntervalMs?: string | number;
  statsIntervalSeconds?: string | number;
  speed?: string | number;
  loop?: boolean | string;
  startOnDeploy?: boolean | string;
}

/** Parsed configuration. */
interface PcapSourceConfig {
  mode: 'file' | 'live';
  filename: string;
  iface: string;
  filter: string;
  snapLength: number;
  bufferSizeMiB: number;
  promiscuous: boolean;
  batchSize: number;
  flushIntervalMs: number;
  statsIntervalSeconds: number;
  speed: ReplaySpeed;
  loop: boolean;
  startOnDeploy: boolean;
}

const STATUS_INTERVAL_MS = 250;

function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  return value === true || value === 'true';
}

function integer(value: unknown, fallback: number, min: number, max: number, what: string, t: Translate): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(t('errors.notInteger', { field: t(what), min, max, value: JSON.stringify(value) }));
  return n;
}

/** Parses the editor config; `t` gives the error texts. @throws {Error} naming the bad field. */
function parseConfig(c: PcapSourceNodeDef, t: Translate): PcapSourceConfig {
  const mode = c.mode === undefined || c.mode === '' ? 'file' : c.mode;
  if (mode !== 'file' && mode !== 'live') throw new Error(t('errors.badMode', { value: JSON.stringify(c.mode) ?? 'undefined' }));
  return {
    mode,
    filename: (c.filename ?? '').trim(),
    iface: (c.iface ?? '').trim(),
    filter: (c.filter ?? '').trim(),
    snapLength: integer(c.snapLength, DEFAULT_SNAP_LENGTH, 64, 262144, 'field.snapLength', t),
    bufferSizeMiB: integer(c.bufferSizeMiB, 32, 1, 2048, 'field.bufferSizeMiB', t),
    promiscuous: bool(c.promiscuous, true),
    batchSize: integer(c.batchSize, 4096, 1, 1_000_000, 'field.batchSize', t),
    flushIntervalMs: integer(c.flushIntervalMs, DEFAULT_FLUSH_INTERVAL_MS, 10, 60_000, 'field.flushIntervalMs', t),
    statsIntervalSeconds: integer(c.statsIntervalSeconds, 10, 1, 86_400, 'field.statsIntervalSeconds', t),
    speed: parseSpeed(c.speed),
    loop: bool(c.loop, false),
    startOnDeploy: bool(c.startOnDeploy, true),
  };
}

/** Packet time as UTC HH:MM:SS. */
function clockText(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '--:--:--';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '--:--:--' : d.toISOString().slice(11, 19);
}

/** Live status: `eth0 · 1.2k pps · 0 dropped` (dropped = by the kernel + by the interface; text from `t`). */
function liveText(iface: string, pps: number, stats: LiveCaptureStats | null, t: Translate): string {
  const dropped = stats ? stats.droppedByKernel + stats.droppedByInterface : 0;
  return t('status.live', { iface, pps: compactNumber(pps), dropped: compactNumber(dropped) });
}

/** The answer of an admin endpoint when libpcap is missing or failed. */
function endpointError(res: { status(code: number): { json(body: unknown): void } }, err: unknown): void {
  const code = err instanceof LiveCaptureError ? err.code : 'ERROR';
  res.status(code === 'PCAP_UNAVAILABLE' ? 503 : 500).json({ error: errorMessage(err), code });
}

/**
 * Registers the `pcap-source` node type and its admin endpoints (both need the
 * `pcap-source.read` permission when adminAuth is on):
 * - `GET pcap-source/interfaces` → `{ interfaces: [{ name, description, addresses: string[], loopback }] }`
 *   (libpcap's `pcap_findalldevs`), or HTTP 503 `{ error, code: "PCAP_UNAVAILABLE" }`;
 * - `GET pcap-source/check-filter?filter=<BPF>&iface=<name>` → `{ ok: true, linkType }` or
 *   `{ ok: false, error: <libpcap's message>, linkType }`, HTTP 400 without `filter`, 503 without libpcap.
 *
 * Config: mode (`file` | `live`); file: path of a capture or a folder of captures, speed (`max` |
 * `realtime` | ×N), loop; live: interface, BPF filter, snap length (bytes, default 128), buffer size
 * (MiB), promiscuous, flush interval (ms), stats interval (s); both: batch size (packets), start on
 * deploy. Input `msg.payload`: "start" (or resume after "pause"), "pause", "stop"; `msg.filename`
 * replays that file or folder. Output 1: `{ topic: source, payload: PacketBatch }`; output 2:
 * `{ topic, payload: { event, … } }`, event `replay-complete` (summary with totals), `file-complete`
 * (one file of a folder), `error`, `capture-stats` (every stats interval), `capture-stopped`,
 * `interface-down` / `interface-retrying` / `interface-up` (the capture interface disappeared, a
 * reopen failed, it is back).
 */
export = function (RED: NodeAPI): void {
  /** Texts of `nodes/locales/<lang>/pcap-source.json`. */
  const t = catalogue(RED, 'pcap-source');
  const needsRead = RED.auth.needsPermission('pcap-source.read');
  RED.httpAdmin.get('/pcap-source/interfaces', needsRead, (_req, res) => {
    try {
      res.json({ interfaces: listInterfaceDetails() });
    } catch (err) {
      endpointError(res, err);
    }
  });
  RED.httpAdmin.get('/pcap-source/check-filter', needsRead, (req, res) => {
    const filter = req.query.filter;
    const iface = typeof req.query.iface === 'string' ? req.query.iface : '';
    if (typeof filter !== 'string') { res.status(400).json({ error: t('errors.filterMissing'), code: 'BAD_REQUEST' }); return; }
    try {
      res.json(checkBpfFilter(filter, filterLinkTypeFor(iface)));
    } catch (err) {
      endpointError(res, err);
    }
  });

  function PcapSourceNode(this: Node, def: PcapSourceNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const packageRoot = path.resolve(__dirname, '..', '..');
    const settings = RED.settings as unknown as { userDir?: string };
    const searchDirs = [process.cwd(), settings.userDir, packageRoot].filter((d): d is string => typeof d === 'string' && d !== '');

    let config: PcapSourceConfig | null = null;
    let configError: string | null = null;
    try {
      // filename is a TypedInput: typed in (`str`) or read now from env / flow / global
      config = parseConfig(resolveSettings(RED, node, def, ['filename']), t);
    } catch (err) {
      configError = errorMessage(err);
    }

    let closing = false;
    let replay: { controller: AbortController; gate: ReplayGate; finished: Promise<void>; status: string } | null = null;
    let capture: LiveCapture | null = null;
    let statsTimer: NodeJS.Timeout | null = null;
    let chain: Promise<void> = Promise.resolve();

    const sendEvent = (payload: Record<string, unknown>, topic: string): void => {
      if (closing) return;
      node.send([null, { topic, payload } as NodeMessage]);
    };

    /** An error outside an input: red status, node.error (with a message, so it reaches Catch nodes), event. */
    const reportError = (message: string, topic: string, statusText?: string): void => {
      if (closing) return;
      node.status(statusError(statusText ?? message));
      const payload = { event: 'error', message };
      node.error(message, { topic, payload } as NodeMessage);
      sendEvent(payload, topic);
    };

    /**
     * A status that fits (60 characters) and still says what to do, for the errors whose full
     * message (in the log) is long: no permission (the setcap advice), libpcap missing.
     */
    const errorStatus = (err: unknown): string | undefined => {
      if (!(err instanceof LiveCaptureError)) return undefined;
      if (err.code === 'PERMISSION_DENIED') return t('status.noPermission');
      if (err.code === 'PCAP_UNAVAILABLE') return t('status.pcapUnavailable');
      return undefined;
    };

    /** Runs start/stop operations one after the other: a new replay starts after the old one ended. */
    const enqueue = (op: () => Promise<void> | void): void => {
      const topic = config?.mode === 'live' ? config.iface : config?.filename ?? '';
      chain = chain.then(op).catch((err) => reportError(errorMessage(err), topic, errorStatus(err)));
    };

    const stopRunning = async (): Promise<void> => {
      if (replay) {
        const r = replay;
        r.controller.abort();
        r.gate.resume();
        await r.finished;
        if (replay === r) replay = null;
      }
      if (capture) {
        const c = capture;
        capture = null;
        if (statsTimer) { clearInterval(statsTimer); statsTimer = null; }
        c.stop(); // sends the final batch
        sendEvent({ event: 'capture-stopped', interface: config?.iface, stats: c.stats(), counters: c.counters }, config?.iface ?? '');
        if (!closing) node.status(statusIdle(t('status.stopped')));
      }
    };

    /** Replays one file; resolves with its summary (rejects when it cannot be read). */
    const replayOne = (file: string, source: string, controller: AbortController, gate: ReplayGate, prefix: string): Promise<ReplaySummary> => {
      const cfg = config!;
      let lastStatus = 0;
      const onBatch = (batch: PacketBatch, progress: ReplayProgress): void => {
        if (closing) return;
        node.send([{ topic: source, payload: batch } as NodeMessage, null]);
        const now = Date.now();
        if (!batch.final && now - lastStatus >= STATUS_INTERVAL_MS) {
          lastStatus = now;
          const pct = progress.fileSize > 0 ? Math.floor((progress.bytesParsed / progress.fileSize) * 100) : 100;
          const text = prefix + t('status.progress', { percent: pct, packets: compactNumber(progress.packetsRead), clock: clockText(progress.lastPacketMs) });
          if (replay) replay.status = text;
          if (!gate.paused) node.status(statusOk(t('status.replay', { text })));
        }
      };
      return replayCaptureFile(file, {
        batchSize: cfg.batchSize,
        speed: cfg.speed,
        signal: controller.signal,
        gate,
        source,
        onBatch,
        onWarning: (message) => { if (!closing) node.warn(t('log.fileWarning', { source, message })); },
      });
    };

    /** Status (yellow) and one warning per run for frames of an unsupported link type. */
    const unsupportedText = (linkTypes: readonly number[], skipped: number): string =>
      t('status.unsupportedLinkType', { linkType: linkTypes.join(', ') || '?', packets: compactNumber(skipped) });
    const warnUnsupported = (source: string, linkTypes: readonly number[], skipped: number): void => {
      if (closing) return;
      node.warn(t('log.unsupportedLinkType', { source, linkType: linkTypes.join(', ') || '?', packets: skipped, supported: supportedLinkTypesText() }));
    };

    /** Status and events at the end of a (file or folder) replay pass. */
    const finishStatus = (summary: ReplaySummary, pass: number): void => {
      const passText = config?.loop ? t('status.pass', { pass }) : '';
      if (summary.counters.unsupportedLinkType > 0 && !summary.aborted) node.status(statusWarn(unsupportedText(summary.unsupportedLinkTypes, summary.counters.unsupportedLinkType) + passText));
      else if (summary.truncated) node.status(statusWarn(t('status.truncated', { packets: compactNumber(summary.packetsRead) }) + passText));
      else if (summary.aborted) node.status(statusIdle(t('status.stoppedAt', { packets: compactNumber(summary.packetsRead) })));
      else node.status(statusOk(t('status.done', { packets: compactNumber(summary.packetsRead) }) + passText));
    };

    const startReplay = async (target: string, source: string): Promise<void> => {
      await stopRunning();
      if (closing || !config) return;
      const cfg = config;
      const controller = new AbortController();
      const gate = new ReplayGate();
      node.status(statusOk(t('status.replay', { text: t('status.progress', { percent: 0, packets: '0', clock: clockText(null) }) })));
      let warnedLinkType = false; // one warning per run (not per pass of a loop)
      const noteUnsupported = (summary: ReplaySummary): void => {
        if (warnedLinkType || summary.counters.unsupportedLinkType === 0) return;
        warnedLinkType = true;
        warnUnsupported(source, summary.unsupportedLinkTypes, summary.counters.unsupportedLinkType);
      };
      const run = async (): Promise<void> => {
        const isFolder = fs.statSync(target).isDirectory();
        for (let pass = 1; ; pass++) {
          let summary: ReplaySummary;
          if (isFolder) {
            const { captures, skipped } = await listCaptureFolder(target);
            if (pass === 1) for (const s of skipped) node.warn(t('log.skipped', { source, file: path.basename(s.file), reason: s.reason }));
            if (captures.length === 0) throw new Error(t('errors.emptyFolder', { folder: target }));
            const summaries: ReplaySummary[] = [];
            for (let i = 0; i < captures.length && !controller.signal.aborted; i++) {
              const file = captures[i]!.file;
              const s = await replayOne(file, file, controller, gate, t('status.filePrefix', { index: i + 1, files: captures.length, file: path.basename(file) }));
              summaries.push(s);
              if (closing) return;
              if (s.error !== undefined) reportError(s.error, file);
              sendEvent({ event: 'file-complete', summary: s, index: i, files: captures.length }, file);
            }
            summary = sumReplaySummaries(target, summaries);
            if (closing) return;
            const payload: Record<string, unknown> = { event: 'replay-complete', summary, files: summaries.length, skipped };
            if (cfg.loop) payload.pass = pass;
            noteUnsupported(summary);
            finishStatus(summary, pass);
            sendEvent(payload, source);
          } else {
            summary = await replayOne(target, source, controller, gate, '');
            if (closing) return;
            noteUnsupported(summary);
            if (summary.error !== undefined) reportError(summary.error, source);
            else finishStatus(summary, pass);
            const payload: Record<string, unknown> = { event: 'replay-complete', summary };
            if (cfg.loop) payload.pass = pass;
            sendEvent(payload, source);
            if (summary.error !== undefined) return;
          }
          if (!cfg.loop || controller.signal.aborted || summary.packetsRead === 0) return;
          await new Promise((r) => setImmediate(r));
        }
      };
      const finished = run().catch((err: unknown) => { reportError(errorMessage(err), source); });
      replay = { controller, gate, finished, status: '0%' };
    };

    const startLive = async (): Promise<void> => {
      await stopRunning();
      if (closing || !config) return;
      const cfg = config;
      let windowStart = Date.now();
      let windowPackets = 0;
      let lastRead = 0;
      let linkDown = false; // the last 'down' was a link going down rather than the interface going away
      const c = new LiveCapture({
        interface: cfg.iface,
        filter: cfg.filter,
        snapLength: cfg.snapLength,
        bufferSize: cfg.bufferSizeMiB * 1024 * 1024,
        promiscuous: cfg.promiscuous,
        batchSize: cfg.batchSize,
        flushIntervalMs: cfg.flushIntervalMs,
        onBatch: (batch) => {
          if (closing) return;
          node.send([{ topic: cfg.iface, payload: batch } as NodeMessage, null]);
          windowPackets += batch.counters.packetsRead - lastRead; // counters are cumulative
          lastRead = batch.counters.packetsRead;
          const now = Date.now();
          if (!batch.final && !c.paused && !c.down && now - windowStart >= 1000) {
            const skipped = batch.counters.unsupportedLinkType;
            node.status(skipped > 0 ? statusWarn(unsupportedText([c.linkType], skipped))
              : statusOk(liveText(cfg.iface, (windowPackets * 1000) / (now - windowStart), c.stats(), t)));
            windowStart = now;
            windowPackets = 0;
          }
        },
        onError: (err) => reportError(errorMessage(err), cfg.iface),
        onWarning: (message) => { if (!closing) node.log(t('log.libpcapWarning', { iface: cfg.iface, message })); },
        onInterfaceState: (e) => {
          if (closing) return;
          if (e.state === 'up') linkDown = false;
          if (e.state === 'up') {
            node.log(e.message);
            node.status(statusOk(liveText(cfg.iface, 0, c.stats(), t)));
          } else {
            if (e.state === 'down') node.warn(e.message);
            if (e.state === 'down') linkDown = e.reason === 'link-down';
            node.status(statusWarn(t(linkDown ? 'status.ifaceDown' : 'status.ifaceGone', { iface: cfg.iface, seconds: Math.round((e.retryInMs ?? 0) / 1000) })));
          }
          sendEvent({ event: `interface-${e.state}`, interface: cfg.iface, ...(e.reason ? { reason: e.reason } : {}), message: e.message, counters: c.counters }, cfg.iface);
        },
      });
      c.start(); // throws LiveCaptureError with an actionable message
      capture = c;
      if (isSupportedLinkType(c.linkType)) node.status(statusOk(liveText(cfg.iface, 0, null, t)));
      else {
        // every frame of this interface will be skipped: say so now, once per run
        warnUnsupported(cfg.iface, [c.linkType], 0);
        node.status(statusWarn(unsupportedText([c.linkType], 0)));
      }
      statsTimer = setInterval(() => {
        const stats: LiveCaptureStats | null = c.stats();
        if (stats) sendEvent({ event: 'capture-stats', interface: cfg.iface, stats, counters: c.counters, paused: c.paused }, cfg.iface);
      }, cfg.statsIntervalSeconds * 1000);
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

    /** "start" after "pause": resumes. @returns false when nothing was paused. */
    const resume = (): boolean => {
      if (replay && replay.gate.paused) {
        replay.gate.resume();
        node.status(statusOk(t('status.replay', { text: replay.status })));
        return true;
      }
      if (capture && capture.paused && config) {
        capture.start(); // throws LiveCaptureError (e.g. the interface is gone)
        const skipped = capture.counters.unsupportedLinkType;
        node.status(isSupportedLinkType(capture.linkType) ? statusOk(liveText(config.iface, 0, capture.stats(), t))
          : statusWarn(unsupportedText([capture.linkType], skipped)));
        return true;
      }
      return false;
    };

    const pause = (): void => {
      if (replay && !replay.gate.paused) {
        replay.gate.pause();
        node.status(statusIdle(t('status.paused', { text: replay.status })));
      } else if (capture && (capture.running || capture.down)) {
        capture.pause();
        node.status(statusIdle(t('status.paused', { text: t('status.packets', { packets: capture.counters.packetsRead }) })));
      }
    };

    if (configError !== null) {
      node.status(statusError(configError));
      node.error(t('errors.badConfig', { reason: configError }));
    } else if (config) {
      if (config.startOnDeploy && (config.mode === 'live' || config.filename !== '')) {
        try {
          startConfigured();
        } catch (err) {
          reportError(errorMessage(err), config.filename);
        }
      } else if (config.mode === 'file') {
        node.status(statusIdle(t(config.filename ? 'status.ready' : 'status.noFile')));
      } else {
        node.status(statusIdle(t('status.liveReady', { iface: config.iface })));
      }
    }

    node.on('input', (msg: NodeMessageInFlow, _send, done) => {
      try {
        if (configError !== null || !config) throw new Error(t('errors.notConfigured', { reason: configError ?? '' }));
        const m = msg as NodeMessageInFlow & { filename?: unknown };
        if (m.filename !== undefined) {
          if (config.mode !== 'file') throw new Error(t('errors.filenameNeedsFileMode'));
          if (typeof m.filename !== 'string') throw new Error(t('errors.filenameNotString'));
          const file = resolveCapturePath(m.filename, searchDirs);
          const source = m.filename;
          enqueue(() => startReplay(file, source));
        } else if (m.payload === 'start') {
          if (!resume()) startConfigured();
        } else if (m.payload === 'pause') {
          pause();
        } else if (m.payload === 'stop') {
          enqueue(stopRunning);
        } else {
          throw new Error(t('errors.badCommand'));
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
      r?.gate.resume();
      if (capture) { const c = capture; capture = null; c.stop(); }
      const finish = (): void => done();
      Promise.all([r ? r.finished : Promise.resolve(), chain]).then(finish, finish);
    });
  }

  RED.nodes.registerType('pcap-source', PcapSourceNode);
};
