/**
 * Replays a capture file as {@link PacketBatch}es: streamed in chunks, decoded by
 * {@link PacketBatchBuilder}, paced on packet time if asked, without starving the event loop.
 *
 * @packageDocumentation
 */
import * as fs from 'fs';
import * as path from 'path';
import { CaptureFileParser } from './capture-file';
import type { MAX_CLAMPED_BACK_STEP_MS } from './capture-file';

/** Re-exported: the largest step back of packet time that is clamped (60 s); larger ones start a new time epoch. */
export { MAX_CLAMPED_BACK_STEP_MS } from './capture-file';
import { PacketBatchBuilder, DEFAULT_BATCH_SIZE, emptyCounters } from './decoder';
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
  /** Forward steps of packet time longer than {@link TIME_JUMP_MS} (merged captures, a clock set later). */
  timeJumps: number;
  /** Longest forward step of packet time between two consecutive packets, ms (0 with fewer than 2 packets). */
  largestTimeStepMs: number;
  /**
   * Steps back of packet time larger than {@link MAX_CLAMPED_BACK_STEP_MS} (60 s), each of which
   * started a new time epoch (also `counters.timeEpochs`); the batch before each was `final`.
   */
  timeEpochs: number;
  /** LINKTYPE_* numbers the file declares (its pcap header, or its pcapng interfaces), distinct, in file order. */
  linkTypes: number[];
  /**
   * LINKTYPE_* numbers of the frames skipped as `counters.unsupportedLinkType` (the decoder supports
   * `SUPPORTED_LINK_TYPES` of the decoder); empty when none was skipped.
   */
  unsupportedLinkTypes: number[];
}

/**
 * A forward step of packet time longer than this (1 hour) is a jump: counted in
 * {@link ReplaySummary.timeJumps}, and a paced replay does not wait for it (new pacing epoch).
 */
export const TIME_JUMP_MS = 3_600_000;

/**
 * Pause / resume of a running replay ({@link ReplayOptions.gate}). While paused the replay holds its
 * place in the file (nothing is skipped, nothing is sent); on resume, pacing goes on from the packet
 * it held, as if the pause had not happened (the pause is not replayed as packet time).
 */
export class ReplayGate {
  private resumeWaiters: Array<() => void> = [];
  private pausedFlag = false;

  /** True between {@link pause} and {@link resume}. */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /** Holds the replay at its next step (within 100 ms while it is pacing). */
  pause(): void {
    this.pausedFlag = true;
  }

  /** Lets the replay go on. */
  resume(): void {
    this.pausedFlag = false;
    const w = this.resumeWaiters;
    this.resumeWaiters = [];
    for (const f of w) f();
  }

  /** Resolves once resumed or aborted; with the time spent waiting, ms. */
  async wait(signal?: AbortSignal): Promise<number> {
    const t0 = Date.now();
    while (this.pausedFlag && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = (): void => { signal?.removeEventListener('abort', done); resolve(); };
        this.resumeWaiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
    return Date.now() - t0;
  }
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
  /** Pauses and resumes the replay (see {@link ReplayGate}). */
  gate?: ReplayGate;
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
  /**
   * Times of the first and last packet and the longest step, epoch ms / ms, in a Float64Array: a
   * double written per packet into an object field that may also hold `null` (or into a closure
   * variable) is boxed, one heap number per packet; a typed-array element is not.
   */
  private readonly times = new Float64Array(3);
  private seen = false;
  timeJumps = 0;
  get firstPacketMs(): number | null { return this.seen ? this.times[0]! : null; }
  get lastPacketMs(): number | null { return this.seen ? this.times[1]! : null; }
  get largestTimeStepMs(): number { return this.times[2]!; }
  /** When set, `onPacket` pauses before any packet whose time is later than this (pacing). */
  holdAfterMs = Infinity;
  /** Packet time of the record that paused the reader for pacing (NaN: paused because the batch is full). */
  heldTimeMs = NaN;
  /** The reader paused before the first packet of a new time epoch: deliver the batch so far as final, then {@link acceptEpoch}. */
  epochHeld = false;
  /** The held first packet of a new epoch may pass (set by {@link acceptEpoch}, cleared when it is added). */
  private epochAccepted = false;
  /** Time epochs started (steps back of more than MAX_CLAMPED_BACK_STEP_MS), counted when the reader pauses before one. */
  epochs = 0;

  /** After the batch ending an epoch was delivered: lets the held packet start the next epoch. */
  acceptEpoch(): void {
    this.epochHeld = false;
    this.epochAccepted = true;
  }

  constructor(batchSize: number, onWarning?: (m: string) => void) {
    this.builder = new PacketBatchBuilder(batchSize);
    const times = this.times;
    this.parser = new CaptureFileParser({
      // offsets into the reader's buffer: no view (Buffer object) per packet
      onPacketAt: (linkType, buf, offset, capturedLength, wireLength, time, ifIndex) => {
        const timeMs = time[0]!;
        if (this.seen && timeMs < times[1]! && !this.epochAccepted) {
          // a step back of more than MAX_CLAMPED_BACK_STEP_MS (the reader clamps smaller ones): the
          // batch so far ends the epoch (final), then this packet starts the next one
          if (!this.epochHeld) { this.epochHeld = true; this.epochs++; }
          return false;
        }
        if (this.builder.full) { this.heldTimeMs = NaN; return false; }
        if (timeMs > this.holdAfterMs) { this.heldTimeMs = timeMs; return false; }
        this.builder.addAt(linkType, buf, offset, capturedLength, wireLength, timeMs, ifIndex);
        this.epochAccepted = false;
        if (!this.seen) { this.seen = true; times[0] = timeMs; }
        else {
          const step = timeMs - times[1]!;
          if (step > times[2]!) times[2] = step;
          if (step > TIME_JUMP_MS) this.timeJumps++;
        }
        times[1] = timeMs;
        return true;
      },
      onWarning,
    });
  }

  flush(source: string, final: boolean): PacketBatch {
    this.builder.counters.timeClamped = this.parser.timeClamped;
    this.builder.counters.timeEpochs = this.epochs;
    return this.builder.flush(source, this.lastPacketMs ?? 0, final);
  }

  progress(fileSize: number): ReplayProgress {
    return { bytesParsed: this.parser.bytesConsumed, fileSize, packetsRead: this.builder.counters.packetsRead, lastPacketMs: this.lastPacketMs };
  }

  summary(file: string, bytesRead: number, fileSize: number, aborted: boolean): ReplaySummary {
    this.builder.counters.timeClamped = this.parser.timeClamped;
    this.builder.counters.timeEpochs = this.epochs;
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
      timeJumps: this.timeJumps,
      timeEpochs: this.epochs,
      largestTimeStepMs: this.largestTimeStepMs,
      linkTypes: [...this.parser.linkTypes],
      unsupportedLinkTypes: [...this.builder.unsupportedLinkTypes],
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
 * due later (≥ 1 ms), delivering the packets due so far first; sleeps are sliced so that an abort or
 * a pause ({@link ReplayOptions.gate}) is noticed within 100 ms. A forward step over
 * {@link TIME_JUMP_MS} (1 h of packet time) is not waited for: pacing starts a new epoch at the packet
 * after it, so a capture whose clock jumps by months does not stall the replay.
 * `clockMs` of each batch is the last packet time seen so far.
 *
 * Timestamp policy (packet times are what the windows downstream are cut on):
 * - a time earlier than the latest so far by at most {@link MAX_CLAMPED_BACK_STEP_MS} (60 s: jitter,
 *   multi-queue reordering) is clamped to that latest time and counted in `counters.timeClamped`
 *   (the reader's rule, {@link CaptureFileParser}); windows never see time go back within an epoch.
 *   In `ndpi__sites.pcapng` two steps back (−47.7 s, −6.0 s) clamp the 17 packets that are earlier
 *   than the latest time before them.
 * - a larger step back (a merged capture, a clock stepped back by hours or days) starts a new time
 *   epoch: the batch before it is delivered with `final: true` (as at the end of a capture:
 *   flow-aggregator closes its window and forgets its flows; ewma-baseline and cooldown-gate treat
 *   time going back as a replay starting again), the packet times after it pass through unclamped,
 *   and it is counted in `counters.timeEpochs` (already in that final batch) and `summary.timeEpochs`.
 *   Clamping such a step would give every later packet the same time until time caught up: one
 *   window would get them all, a false burst. Batch `seq` and the counters go on across epochs.
 * - a forward jump is kept as it is (packet time is evidence; inventing times would move traffic to
 *   windows it did not happen in). Jumps over {@link TIME_JUMP_MS} (1 h) are counted in
 *   `summary.timeJumps`, the longest step in `summary.largestTimeStepMs`. Downstream, flow-aggregator
 *   emits at most `maxEmptyWindows` (30) empty windows for a gap and skips the rest, marking the next
 *   window with `gapBeforeMs`, so a jump of months (`ndpi__openvpn.pcap`: 1970 → 2013) costs 30 empty
 *   windows, not millions, and baselines see one gap, not months of zeros.
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
  const gate = options.gate;
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
  const holdWhilePaused = async (): Promise<void> => {
    if (gate?.paused) anchorWall += await gate.wait(signal);
  };

  const drain = async (more: boolean): Promise<void> => {
    while (!more) {
      await holdWhilePaused();
      if (signal?.aborted) return;
      if (run.epochHeld) {
        // a new time epoch: the batch so far ends the old one (final: windows close, flows are
        // forgotten downstream); pacing anchors again on the first packet of the new epoch
        await deliver(true);
        run.acceptEpoch();
        if (factor > 0) { run.holdAfterMs = -Infinity; anchorPacket = NaN; }
        await yieldToEventLoop();
      } else if (Number.isNaN(run.heldTimeMs)) {
        // the batch is full
        await deliver(false);
        await yieldToEventLoop();
      } else {
        // pacing: the held packet is due later; deliver what is due now, then sleep until it is due
        const held = run.heldTimeMs;
        // the first packet anchors packet time to the wall clock; a jump over TIME_JUMP_MS starts a new
        // anchor (an epoch), so that a capture whose clock jumps by months does not stall the replay
        const previous = run.lastPacketMs;
        if (Number.isNaN(anchorPacket) || (previous !== null && held - previous > TIME_JUMP_MS)) { anchorPacket = held; anchorWall = Date.now(); }
        if (run.builder.count > 0) await deliver(false);
        while (!signal?.aborted) {
          await holdWhilePaused();
          const wait = anchorWall + (held - anchorPacket) / factor - Date.now();
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
      await holdWhilePaused();
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
    const epochEnd = run.epochHeld;
    batches.push(run.flush(file, epochEnd));
    if (epochEnd) run.acceptEpoch();
    more = run.parser.resume();
  }
  run.parser.end();
  batches.push(run.flush(file, true));
  return { batches, summary: run.summary(file, bytes.length, bytes.length, false) };
}

/** A capture file of a folder, with the time of its first packet. */
export interface FolderCapture {
  /** Absolute path. */
  file: string;
  /** Time of its first packet, epoch ms; `null` when it holds no packet. */
  firstPacketMs: number | null;
}

/**
 * Time of the first packet of a capture file, reading only as far as that packet (at most 64 MiB).
 * @returns the time (epoch ms), `null` for a capture without packets.
 * @throws {Error} "<path>: not a pcap or pcapng file …" (the reader's message) for anything else, or
 *   "cannot read capture file …" when it cannot be read.
 */
export async function readFirstPacketTime(file: string): Promise<number | null> {
  let first: number | null = null;
  const parser = new CaptureFileParser({ onPacket: (_l, _d, _c, _w, timeMs) => { first = timeMs; return false; } });
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (err) {
    throw new Error(`cannot read capture file "${file}": ${(err as Error).message}`);
  }
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (let offset = 0; offset < 64 * 1024 * 1024; ) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
      parser.push(Buffer.from(chunk.subarray(0, bytesRead)));
      if (first !== null || parser.failed) break;
    }
  } finally {
    await handle.close();
  }
  if (first !== null) return first;
  if (!parser.failed) parser.end();
  if (parser.error !== undefined) throw new Error(`${file}: ${parser.error}`);
  return null;
}

/**
 * The capture files of a folder (not its subfolders; symbolic links are followed) in the order to replay them: by the time of
 * their first packet, then by name; captures without packets last. Files that are not captures
 * (checked by magic number, not name) are left out and listed in `skipped` with the reason.
 * @throws {Error} when the folder cannot be read.
 */
export async function listCaptureFolder(dir: string): Promise<{ captures: FolderCapture[]; skipped: Array<{ file: string; reason: string }> }> {
  const names = (await fs.promises.readdir(dir)).sort();
  const captures: FolderCapture[] = [];
  const skipped: Array<{ file: string; reason: string }> = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (!(await fs.promises.stat(file)).isFile()) continue; // follows symbolic links; subfolders are not replayed
      captures.push({ file, firstPacketMs: await readFirstPacketTime(file) });
    } catch (err) {
      skipped.push({ file, reason: (err as Error).message });
    }
  }
  const order = captures.map((c, i) => ({ c, i }));
  order.sort((a, b) => {
    const ta = a.c.firstPacketMs, tb = b.c.firstPacketMs;
    if (ta === null || tb === null) return ta === tb ? a.i - b.i : ta === null ? 1 : -1;
    return ta - tb || a.i - b.i;
  });
  return { captures: order.map((x) => x.c), skipped };
}

/**
 * Totals of several replays (the files of a folder): packets, counters and bytes summed, first /
 * last packet time over all, `truncated` / `aborted` when any was, warnings and errors prefixed with
 * the file, `timeJumps` summed and `largestTimeStepMs` the largest (steps between files not counted),
 * `linkTypes` / `unsupportedLinkTypes` the distinct numbers of all.
 * @param label - the `path` of the totals (the folder).
 */
export function sumReplaySummaries(label: string, summaries: readonly ReplaySummary[]): ReplaySummary {
  const t: ReplaySummary = {
    path: label, packetsRead: 0,
    counters: emptyCounters(),
    firstPacketMs: null, lastPacketMs: null, bytesRead: 0, fileSize: 0, truncated: false, aborted: false,
    warnings: [], timeJumps: 0, timeEpochs: 0, largestTimeStepMs: 0, linkTypes: [], unsupportedLinkTypes: [],
  };
  const errors: string[] = [];
  for (const s of summaries) {
    t.packetsRead += s.packetsRead;
    for (const k of Object.keys(t.counters) as Array<keyof DecodeCounters>) t.counters[k] = (t.counters[k] ?? 0) + (s.counters[k] ?? 0);
    if (s.firstPacketMs !== null && (t.firstPacketMs === null || s.firstPacketMs < t.firstPacketMs)) t.firstPacketMs = s.firstPacketMs;
    if (s.lastPacketMs !== null && (t.lastPacketMs === null || s.lastPacketMs > t.lastPacketMs)) t.lastPacketMs = s.lastPacketMs;
    t.bytesRead += s.bytesRead;
    t.fileSize += s.fileSize;
    t.truncated ||= s.truncated;
    t.aborted ||= s.aborted;
    for (const w of s.warnings) t.warnings.push(`${path.basename(s.path)}: ${w}`);
    if (s.error !== undefined) errors.push(s.error);
    t.timeJumps += s.timeJumps;
    t.timeEpochs += s.timeEpochs ?? 0;
    t.largestTimeStepMs = Math.max(t.largestTimeStepMs, s.largestTimeStepMs);
    for (const l of s.linkTypes ?? []) if (!t.linkTypes.includes(l)) t.linkTypes.push(l);
    for (const l of s.unsupportedLinkTypes ?? []) if (!t.unsupportedLinkTypes.includes(l)) t.unsupportedLinkTypes.push(l);
  }
  if (errors.length > 0) t.error = errors.join('; ');
  return t;
}
