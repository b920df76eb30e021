/**
 * Replays a capture file as {@link PacketBatch}es: streamed in chunks, decoded by
 * {@link PacketBatchBuilder}, paced on packet time if asked, without starving the event loop.
 *
 * @packageDocumentation
 */
import * as fs from 'fs';
import * as path from 'path';
import { CaptureFileParser } from './capture-file';
import { PacketBatchBuilder, DEFAULT_BATCH_SIZE } from './decoder';
import type { DecodeCounters, PacketBatch } from './contracts';

/** Bytes read from the file per chunk. */
export const REPLAY_CHUNK_BYTES = 1024 * 1024;

/** Longest single sleep while pacing (ms): aborts are noticed at least this often. */
const MAX_SLEEP_SLICE_MS = 100;

/** Pacing of a replay: as fast as possible, at packet-time speed, or N times packet-time speed. */
export type ReplaySpeed = 'max' | 'realtime' | number;

/** What a replay read. */
export interface ReplaySummary {
  /** The file replayed (as given). */
  path: string;
  /** Packet records read from the file. */
  packetsRead: number;
  /** Reader and decoder counters at the end (cumulative for the run). */
  counters: DecodeCounters;
  /** Time of the first / last packet, epoch ms; `null` when the file had no packet. */
  firstPacketMs: number | null;
  lastPacketMs: number | null;
  /** Bytes of the file read from disk, and its size, bytes. */
  bytesRead: number;
  fileSize: number;
  /** The file ended inside a record (packets before it were delivered). */
  truncated: boolean;
  /** True when the replay was stopped by its AbortSignal before the end of the file. */
  aborted: boolean;
  /** Warnings of the reader, in order. */
  warnings: string[];
  /** Set when the file is not a capture or is corrupt: the reader stopped here (packets before it were delivered). */
  error?: string;
}

/** Progress of a running replay, passed with each batch. */
export interface ReplayProgress {
  /** File offset up to which records were parsed, bytes. */
  bytesParsed: number;
  fileSize: number;
  packetsRead: number;
  /** Time of the last packet read, epoch ms (null before the first). */
  lastPacketMs: number | null;
}

/** Options of {@link replayCaptureFile}. */
export interface ReplayOptions {
  /** Packets per batch (default 4096). */
  batchSize?: number;
  /** `'max'` (default): as fast as possible; `'realtime'`: at packet time; a number N > 0: N × packet time. */
  speed?: ReplaySpeed;
  /** Stops the replay: no batch after the final one (sent with what was decoded so far, `final: true`). */
  signal?: AbortSignal;
  /** Receives each batch; awaited before the next one is built. The last one has `final: true` (it may be empty). */
  onBatch: (batch: PacketBatch, progress: ReplayProgress) => void | Promise<void>;
  /** Receives each reader warning (e.g. truncation) as it happens. */
  onWarning?: (message: string) => void;
  /** Source name put in the batches (default: the path). */
  source?: string;
}

/**
 * Finds a capture file: an absolute path as is, a relative one in each of `dirs` in order.
 * @returns the absolute path of the first existing file.
 * @throws {Error} "capture file not found: "<name>" (looked in …)" naming every place tried.
 */
export function resolveCapturePath(name: string, dirs: readonly string[]): string {
  if (typeof name !== 'string' || name.trim() === '') throw new Error('no capture file given (set the file path or msg.filename)');
  if (path.isAbsolute(name)) {
    if (!fs.existsSync(name)) throw new Error(`capture file not found: "${name}"`);
    return name;
  }
  const tried: string[] = [];
  for (const dir of dirs) {
    const candidate = path.resolve(dir, name);
    tried.push(candidate);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(`capture file not found: "${name}" (looked in ${tried.join(', ')})`);
}

/**
 * Checks a speed setting. Accepts 'max', 'realtime', a number or numeric string > 0 (×N).
 * @throws {Error} for anything else.
 */
export function parseSpeed(value: unknown): ReplaySpeed {
  if (value === undefined || value === null || value === '' || value === 'max') return 'max';
  if (value === 'realtime') return 'realtime';
  const n = typeof value === 'number' ? value : Number(String(value).replace(/^x|x$/i, ''));
  if (Number.isFinite(n) && n > 0) return n;
  throw new Error(`speed must be "max", "realtime" or a number > 0 (×N), got ${JSON.stringify(value)}`);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const onAbort = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Shared state of a run: reader + builder + first/last times. */
class Run {
  readonly builder: PacketBatchBuilder;
  readonly parser: CaptureFileParser;
  firstPacketMs: number | null = null;
  lastPacketMs: number | null = null;
  /** When set, `onPacket` pauses before any packet whose time is later than this (pacing). */
  holdAfterMs = Infinity;
  /** Packet time of the record that paused the reader for pacing (NaN: paused because the batch is full). */
  heldTimeMs = NaN;

  constructor(batchSize: number, onWarning?: (m: string) => void) {
    this.builder = new PacketBatchBuilder(batchSize);
    this.parser = new CaptureFileParser({
      onPacket: (linkType, data, capturedLength, wireLength, timeMs, ifIndex) => {
        if (this.builder.full) { this.heldTimeMs = NaN; return false; }
        if (timeMs > this.holdAfterMs) { this.heldTimeMs = timeMs; return false; }
        this.builder.add(linkType, data, capturedLength, wireLength, timeMs, ifIndex);
        if (this.firstPacketMs === null) this.firstPacketMs = timeMs;
        this.lastPacketMs = timeMs;
        return true;
      },
      onWarning,
    });
  }

  flush(source: string, final: boolean): PacketBatch {
    this.builder.counters.timeClamped = this.parser.timeClamped;
    return this.builder.flush(source, this.lastPacketMs ?? 0, final);
  }

  progress(fileSize: number): ReplayProgress {
    return { bytesParsed: this.parser.bytesConsumed, fileSize, packetsRead: this.builder.counters.packetsRead, lastPacketMs: this.lastPacketMs };
  }

  summary(file: string, bytesRead: number, fileSize: number, aborted: boolean): ReplaySummary {
    this.builder.counters.timeClamped = this.parser.timeClamped;
    const s: ReplaySummary = {
      path: file,
      packetsRead: this.builder.counters.packetsRead,
      counters: { ...this.builder.counters },
      firstPacketMs: this.firstPacketMs,
      lastPacketMs: this.lastPacketMs,
      bytesRead,
      fileSize,
      truncated: this.parser.truncated,
      aborted,
      warnings: [...this.parser.warnings],
    };
    if (this.parser.error !== undefined) s.error = `${file}: ${this.parser.error}`;
    return s;
  }
}

/**
 * Replays a capture file (pcap or pcapng, detected from its magic number) as packet batches.
 *
 * The file is streamed in {@link REPLAY_CHUNK_BYTES} chunks (never read whole); after every batch the
 * replay yields to the event loop with `setImmediate`, so timers and I/O keep running. With a speed
 * other than 'max' the replay sleeps for the packet-time difference / N before each packet that is
 * due later (≥ 1 ms), delivering the packets due so far first; sleeps are sliced so that an abort is
 * noticed within 100 ms. `clockMs` of each batch is the last packet time seen so far.
 *
 * Errors: a file that cannot be opened or read REJECTS with "cannot read capture file "<path>": …".
 * A file that is not a capture or is corrupt RESOLVES with `summary.error` naming the path (the
 * packets before the fault were delivered, then the final batch). Truncation is a warning
 * (`summary.truncated`). An exception of `onBatch` rejects (the file is closed).
 *
 * @returns a summary once the final batch was delivered (also after an abort, then `aborted: true`).
 */
export async function replayCaptureFile(file: string, options: ReplayOptions): Promise<ReplaySummary> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const speed = parseSpeed(options.speed);
  const signal = options.signal;
  const source = options.source ?? file;
  let fileSize: number;
  try {
    fileSize = (await fs.promises.stat(file)).size;
  } catch (err) {
    throw new Error(`cannot read capture file "${file}": ${(err as Error).message}`);
  }
  const run = new Run(batchSize, options.onWarning);
  const stream = fs.createReadStream(file, { highWaterMark: REPLAY_CHUNK_BYTES });
  let bytesRead = 0;
  let aborted = false;
  // pacing anchor: wall clock ↔ packet time
  let anchorWall = 0;
  let anchorPacket = NaN;
  const factor = speed === 'max' ? 0 : speed === 'realtime' ? 1 : speed;

  const deliver = async (final: boolean): Promise<void> => {
    const batch = run.flush(source, final);
    await options.onBatch(batch, run.progress(fileSize));
  };

  /** Parses until everything pushed is consumed, delivering full batches and pacing. */
  const drain = async (more: boolean): Promise<void> => {
    while (!more) {
      if (signal?.aborted) return;
      if (Number.isNaN(run.heldTimeMs)) {
        // the batch is full
        await deliver(false);
        await yieldToEventLoop();
      } else {
        // pacing: the held packet is due later; deliver what is due now, then sleep until it is due
        const held = run.heldTimeMs;
        if (Number.isNaN(anchorPacket)) { anchorPacket = held; anchorWall = Date.now(); }
        if (run.builder.count > 0) await deliver(false);
        const dueWall = anchorWall + (held - anchorPacket) / factor;
        while (!signal?.aborted) {
          const wait = dueWall - Date.now();
          if (wait < 1) break;
          await sleep(Math.min(wait, MAX_SLEEP_SLICE_MS), signal);
        }
        // everything due by now passes; the next later packet pauses again
        run.holdAfterMs = Math.max(held, anchorPacket + (Date.now() - anchorWall) * factor);
        run.heldTimeMs = NaN;
        await yieldToEventLoop();
      }
      if (signal?.aborted) return;
      more = run.parser.resume();
    }
  };

  if (factor > 0) run.holdAfterMs = -Infinity; // the first packet anchors packet time to the wall clock
  try {
    for await (const chunk of stream) {
      if (signal?.aborted) { aborted = true; break; }
      bytesRead += (chunk as Buffer).length;
      await drain(run.parser.push(chunk as Buffer));
      if (signal?.aborted) { aborted = true; break; }
      if (run.parser.failed) break;
      await yieldToEventLoop();
    }
  } catch (err) {
    stream.destroy();
    if (bytesRead === 0) throw new Error(`cannot read capture file "${file}": ${(err as Error).message}`);
    throw err;
  }
  stream.destroy();
  if (!aborted && !run.parser.failed) run.parser.end();
  if (signal?.aborted) aborted = true;
  await deliver(true);
  return run.summary(file, bytesRead, fileSize, aborted);
}

/**
 * Reads a whole capture file synchronously into batches. BLOCKS the event loop for the whole file:
 * for the command-line tool and tests, never for the Node-RED runtime (use {@link replayCaptureFile}).
 * @param batchSize - packets per batch (default 4096).
 * @returns every batch (the last one `final: true`, possibly empty) and the summary.
 * @throws {Error} "cannot read capture file "<path>": …" when the file cannot be read; a corrupt file
 *   returns with `summary.error` set instead.
 */
export function readCaptureFileSync(file: string, batchSize: number = DEFAULT_BATCH_SIZE): { batches: PacketBatch[]; summary: ReplaySummary } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`cannot read capture file "${file}": ${(err as Error).message}`);
  }
  const run = new Run(batchSize);
  const batches: PacketBatch[] = [];
  let more = run.parser.push(bytes);
  while (!more) {
    batches.push(run.flush(file, false));
    more = run.parser.resume();
  }
  run.parser.end();
  batches.push(run.flush(file, true));
  return { batches, summary: run.summary(file, bytes.length, bytes.length, false) };
}
