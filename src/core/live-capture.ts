/**
 * Live capture through libpcap, using the npm `pcap` package (node_pcap 3.x, an optional dependency
 * loaded lazily). Frames are decoded by the same {@link PacketBatchBuilder} as file replays and handed
 * out as {@link PacketBatch}es: when a batch is full and every `flushIntervalMs` (then possibly empty,
 * so that windows downstream close while the link is quiet), with `clockMs` = the wall clock.
 *
 * @packageDocumentation
 */
import * as os from 'os';
import { PacketBatchBuilder, DEFAULT_BATCH_SIZE } from './decoder';
import type { PacketBatch } from './contracts';

/** Message when the pcap module cannot be loaded. */
export const PCAP_UNAVAILABLE_MESSAGE =
  'libpcap / the pcap module is not available: install libpcap-dev (apt-get install libpcap-dev) and run npm rebuild pcap';

/** Advice given with a permission error. */
export const PERMISSION_ADVICE =
  'run Node-RED with CAP_NET_RAW and CAP_NET_ADMIN, e.g. `sudo setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node))`, rather than as root';

/** What went wrong when a capture could not start. */
export type LiveCaptureErrorCode = 'PCAP_UNAVAILABLE' | 'NO_SUCH_INTERFACE' | 'PERMISSION_DENIED' | 'BAD_FILTER' | 'OPEN_FAILED';

/** An error an operator can act on; `code` says which kind. */
export class LiveCaptureError extends Error {
  override name = 'LiveCaptureError';
  constructor(readonly code: LiveCaptureErrorCode, message: string) {
    super(message);
  }
}

/** The part of node_pcap's session this module uses (see node_modules/pcap/pcap.js). */
export interface PcapSessionLike {
  link_type: string;
  buf: Buffer;
  header: Buffer;
  on(event: 'packet', listener: (raw: { buf: Buffer; header: Buffer; link_type: string }) => void): unknown;
  close(): void;
  stats(): { ps_recv: number; ps_drop: number; ps_ifdrop: number };
}

/** The part of the `pcap` module this module uses. */
export interface PcapModuleLike {
  createSession(device: string, options: { filter?: string; snap_length?: number; buffer_size?: number; promiscuous?: boolean; buffer_timeout?: number }): PcapSessionLike;
  findalldevs(): Array<{ name: string }>;
}

/**
 * Loads the `pcap` module.
 * @throws {LiveCaptureError} code PCAP_UNAVAILABLE with {@link PCAP_UNAVAILABLE_MESSAGE} and the loader's reason.
 */
export function loadPcapModule(): PcapModuleLike {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('pcap') as PcapModuleLike;
  } catch (err) {
    throw new LiveCaptureError('PCAP_UNAVAILABLE', `${PCAP_UNAVAILABLE_MESSAGE} (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Names of the capture interfaces libpcap sees (`pcap_findalldevs`). @throws {LiveCaptureError} PCAP_UNAVAILABLE. */
export function listInterfaces(pcap: PcapModuleLike = loadPcapModule()): string[] {
  return pcap.findalldevs().map((d) => d.name);
}

/** node_pcap's link type names (from pcap_session.cc) → LINKTYPE_* numbers (tcpdump.org/linktypes.html). */
export function linkTypeNumber(name: string): number {
  switch (name) {
    case 'LINKTYPE_NULL': return 0;
    case 'LINKTYPE_ETHERNET': return 1;
    case 'LINKTYPE_RAW': return 101;
    case 'LINKTYPE_LINUX_SLL': return 113;
    case 'LINKTYPE_IEEE802_11_RADIO': return 127;
    default: {
      // "Unknown linktype N": N is libpcap's DLT value, equal to the LINKTYPE value for the types decoded here
      const m = /(\d+)\s*$/.exec(name);
      return m ? Number(m[1]) : -1;
    }
  }
}

/** Capture statistics (`pcap_stats`); the meaning varies by platform (see pcap_stats(3PCAP)). */
export interface LiveCaptureStats {
  /** Packets received by the filter. */
  received: number;
  /** Packets dropped because the kernel buffer was full (ps_drop). */
  droppedByKernel: number;
  /** Packets dropped by the interface or its driver (ps_ifdrop; 0 may mean "not available"). */
  droppedByInterface: number;
}

/** Options of a {@link LiveCapture}. */
export interface LiveCaptureOptions {
  /** Interface name, e.g. `eth0`, `lo`, `any`. */
  interface: string;
  /** BPF filter (pcap-filter(7) syntax); empty: everything. */
  filter?: string;
  /** Bytes captured per packet (default 262144). */
  snapLength?: number;
  /** Kernel capture buffer, bytes (default 10 MiB). */
  bufferSize?: number;
  /** Promiscuous mode (default true). */
  promiscuous?: boolean;
  /** Packets per batch (default 4096). */
  batchSize?: number;
  /** A batch (possibly empty) is sent at least this often, ms (default 250). */
  flushIntervalMs?: number;
  /** libpcap read timeout, ms: how long the kernel may hold packets back (default 100). */
  bufferTimeoutMs?: number;
  /** Receives every batch. Exceptions are caught and passed to `onError`. */
  onBatch: (batch: PacketBatch) => void;
  /** Receives errors after the start (an exception of `onBatch`). */
  onError?: (err: Error) => void;
  /** Loads the pcap module (default {@link loadPcapModule}); for tests. */
  loadPcap?: () => PcapModuleLike;
}

/**
 * Sessions that were closed but whose libpcap handle node_pcap has not released yet.
 *
 * node_pcap 3.1's `close()` only calls `pcap_breakloop`: the handle and its libuv poll watcher stay
 * open until the next packet arrives, when its dispatch sees the break and calls `pcap_close`. If
 * the JavaScript session object is garbage-collected before that, the poll watcher fires on freed
 * memory and the process dies with SIGSEGV (seen on a Node-RED redeploy of a live capture on a quiet
 * interface). So a closed session is kept referenced here until node_pcap has released it, which
 * `stats()` tells by throwing "session already closed".
 */
const closingSessions = new Set<PcapSessionLike>();
let closingTimer: NodeJS.Timeout | null = null;

function releaseWhenClosed(session: PcapSessionLike): void {
  closingSessions.add(session);
  if (closingTimer) return;
  closingTimer = setInterval(() => {
    for (const s of closingSessions) {
      try { s.stats(); } catch { closingSessions.delete(s); }
    }
    if (closingSessions.size === 0 && closingTimer) { clearInterval(closingTimer); closingTimer = null; }
  }, 1000);
  closingTimer.unref();
}

/** Closed capture sessions whose libpcap handle is not released yet (see {@link LiveCapture.stop}). */
export function pendingSessionCloses(): number {
  return closingSessions.size;
}

/**
 * A live capture session.
 *
 * Note: node_pcap 3.1's `close()` only calls `pcap_breakloop`; libpcap's handle is released when the
 * next packet arrives, and until then its poll handle keeps the event loop referenced. The closed
 * session is kept referenced until then (see {@link pendingSessionCloses}). No packet is delivered
 * after {@link stop}.
 */
export class LiveCapture {
  private readonly opts: LiveCaptureOptions;
  private readonly builder: PacketBatchBuilder;
  private session: PcapSessionLike | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastStats: LiveCaptureStats | null = null;
  private lastTimeMs = -Infinity;
  private littleEndianHeader = true;
  /** LINKTYPE_* of the interface once started. */
  linkType = -1;

  /** @throws {RangeError} for a bad batch size. */
  constructor(options: LiveCaptureOptions) {
    this.opts = options;
    this.builder = new PacketBatchBuilder(options.batchSize ?? DEFAULT_BATCH_SIZE);
  }

  /** True between a successful {@link start} and {@link stop}. */
  get running(): boolean {
    return this.session !== null;
  }

  /**
   * Opens the interface and starts capturing.
   * @throws {LiveCaptureError} PCAP_UNAVAILABLE, NO_SUCH_INTERFACE (message lists the interfaces),
   *   PERMISSION_DENIED (message says how to grant capabilities), BAD_FILTER (libpcap's message) or
   *   OPEN_FAILED.
   */
  start(): void {
    if (this.session) return;
    const o = this.opts;
    const pcap = (o.loadPcap ?? loadPcapModule)();
    const iface = o.interface;
    let names: string[] = [];
    try { names = listInterfaces(pcap); } catch { /* listing is advisory */ }
    if (!iface || (names.length > 0 && !names.includes(iface))) {
      throw new LiveCaptureError('NO_SUCH_INTERFACE', `no such interface "${iface ?? ''}"; available: ${names.join(', ') || '(none found)'}`);
    }
    let session: PcapSessionLike;
    try {
      session = pcap.createSession(iface, {
        filter: o.filter ?? '',
        snap_length: o.snapLength ?? 262144,
        buffer_size: o.bufferSize ?? 10 * 1024 * 1024,
        promiscuous: o.promiscuous ?? true,
        buffer_timeout: o.bufferTimeoutMs ?? 100,
      });
    } catch (err) {
      throw mapOpenError(err, iface, o.filter ?? '', names);
    }
    this.session = session;
    this.linkType = linkTypeNumber(session.link_type);
    this.littleEndianHeader = os.endianness() === 'LE'; // node_pcap copies the header fields in host byte order
    session.on('packet', (raw) => this.onPacket(raw.buf, raw.header));
    const interval = o.flushIntervalMs ?? 250;
    this.timer = setInterval(() => this.flush(false), interval > 0 ? interval : 250);
  }

  /** Per packet: decode into the builder; never throws (node_pcap turns exceptions into a fatal error). */
  private onPacket(buf: Buffer, header: Buffer): void {
    try {
      const le = this.littleEndianHeader;
      const sec = le ? header.readUInt32LE(0) : header.readUInt32BE(0);
      const usec = le ? header.readUInt32LE(4) : header.readUInt32BE(4);
      const capLen = le ? header.readUInt32LE(8) : header.readUInt32BE(8);
      const wireLen = le ? header.readUInt32LE(12) : header.readUInt32BE(12);
      let t = sec * 1000 + usec / 1000;
      if (t < this.lastTimeMs) { t = this.lastTimeMs; this.builder.counters.timeClamped++; } else this.lastTimeMs = t;
      this.builder.add(this.linkType, buf, capLen, wireLen, t, 0);
      if (this.builder.full) this.flush(false);
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  private flush(final: boolean): void {
    const batch = this.builder.flush(this.opts.interface, Date.now(), final);
    try {
      this.opts.onBatch(batch);
    } catch (err) {
      this.opts.onError?.(err as Error);
    }
  }

  /** Capture statistics, or the last ones read (after stop), or null when never started / unavailable. */
  stats(): LiveCaptureStats | null {
    if (this.session) {
      try {
        const s = this.session.stats();
        this.lastStats = { received: s.ps_recv, droppedByKernel: s.ps_drop, droppedByInterface: s.ps_ifdrop };
      } catch { /* keep the last ones */ }
    }
    return this.lastStats;
  }

  /** Stops the capture: closes the session, clears the timer, sends the final batch. Idempotent. */
  stop(): void {
    if (!this.session) return;
    this.stats();
    const session = this.session;
    this.session = null;
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    try { session.close(); } catch { /* already closed */ }
    releaseWhenClosed(session);
    this.flush(true);
  }
}

/** Turns libpcap's open error into a {@link LiveCaptureError} an operator can act on. */
function mapOpenError(err: unknown, iface: string, filter: string, names: string[]): LiveCaptureError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/permission|not permitted|EPERM|EACCES/i.test(msg)) {
    return new LiveCaptureError('PERMISSION_DENIED', `no permission to capture on "${iface}" (${msg}): ${PERMISSION_ADVICE}`);
  }
  if (/no such device|doesn't exist|does not exist|ENODEV|ENXIO/i.test(msg)) {
    return new LiveCaptureError('NO_SUCH_INTERFACE', `no such interface "${iface}" (${msg}); available: ${names.join(', ') || '(none found)'}`);
  }
  if (filter && /filter|syntax|parse|unknown host|illegal|expression/i.test(msg)) {
    return new LiveCaptureError('BAD_FILTER', `invalid BPF filter "${filter}": ${msg}`);
  }
  return new LiveCaptureError('OPEN_FAILED', `cannot capture on "${iface}": ${msg}`);
}
