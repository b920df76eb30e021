/**
 * Live capture through libpcap, using the npm `pcap` package (node_pcap 3.x, an optional dependency
 * loaded lazily). Frames are decoded by the same {@link PacketBatchBuilder} as file replays and handed
 * out as {@link PacketBatch}es: when a batch is full and every `flushIntervalMs` (then possibly empty,
 * so that windows downstream close while the link is quiet), with `clockMs` = the wall clock.
 *
 * @packageDocumentation
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PacketBatchBuilder, DEFAULT_BATCH_SIZE } from './decoder';
import { MAX_CLAMPED_BACK_STEP_MS } from './capture-file';
import type { DecodeCounters, PacketBatch } from './contracts';

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
  /** Called by node_pcap with libpcap's warnings during `createSession` (synchronously). */
  warningHandler?: (message: string) => void;
  createSession(device: string, options: { filter?: string; snap_length?: number; buffer_size?: number; promiscuous?: boolean; buffer_timeout?: number }): PcapSessionLike;
  findalldevs(): Array<{ name: string; description?: string; flags?: string; addresses?: Array<{ addr?: string } | null> }>;
}

/** One capture interface as libpcap lists it (`pcap_findalldevs`). */
export interface CaptureInterface {
  /** Interface name to capture on, e.g. `eth0`, `lo`, `any`. */
  name: string;
  /** libpcap's description, `''` when it has none (Linux interfaces usually have none). */
  description: string;
  /** IPv4 and IPv6 addresses of the interface, as text (`192.0.2.2`, `fe80::1`); may be empty. */
  addresses: string[];
  /** True for a loopback interface (`PCAP_IF_LOOPBACK`). */
  loopback: boolean;
}

/**
 * Capture interfaces with their addresses, in libpcap's order (`pcap_findalldevs`, which lists
 * interfaces that are up first). Entries without an address (node_pcap gives `null` for link-layer
 * addresses) are left out of `addresses`.
 * @throws {LiveCaptureError} PCAP_UNAVAILABLE.
 */
export function listInterfaceDetails(pcap: PcapModuleLike = loadPcapModule()): CaptureInterface[] {
  return pcap.findalldevs().map((d) => ({
    name: d.name,
    description: typeof d.description === 'string' ? d.description : '',
    addresses: (d.addresses ?? []).map((a) => (a && typeof a.addr === 'string' ? a.addr : '')).filter((a) => a !== ''),
    loopback: typeof d.flags === 'string' && d.flags.includes('PCAP_IF_LOOPBACK'),
  }));
}

/** The native part of node_pcap (`build/Release/pcap_binding`) used to compile a filter offline. */
export interface PcapBindingLike {
  PcapSession: new () => {
    open_offline(file: string, filter: string, bufferSize: number, snapLength: number, outfile: string,
      onPacket: () => void, monitor: boolean, timeoutMs: number, onWarning: (w: string) => void, promiscuous: boolean): string;
    close(): void;
    dispatch(buf: Buffer, header: Buffer): number;
  };
}

/**
 * Loads node_pcap's native binding (the same one `require('pcap')` loads).
 * @throws {LiveCaptureError} PCAP_UNAVAILABLE.
 */
export function loadPcapBinding(): PcapBindingLike {
  try {
    loadPcapModule();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path.join(path.dirname(require.resolve('pcap')), 'build', 'Release', 'pcap_binding')) as PcapBindingLike;
  } catch (err) {
    if (err instanceof LiveCaptureError) throw err;
    throw new LiveCaptureError('PCAP_UNAVAILABLE', `${PCAP_UNAVAILABLE_MESSAGE} (${(err as Error).message.split('\n')[0]})`);
  }
}

/** LINKTYPE_ETHERNET: what Linux shows for Ethernet, Wi-Fi (managed mode), veth, bridges and `lo`. */
export const LINKTYPE_ETHERNET = 1;
/** LINKTYPE_LINUX_SLL: what libpcap (1.10) gives for the `any` pseudo-interface. */
export const LINKTYPE_LINUX_SLL = 113;

/** Link type a BPF filter is compiled for when checking it for interface `iface`. */
export function filterLinkTypeFor(iface: string): number {
  return iface === 'any' ? LINKTYPE_LINUX_SLL : LINKTYPE_ETHERNET;
}

/** Result of {@link checkBpfFilter}. */
export interface BpfFilterCheck {
  /** True when libpcap compiled the filter. */
  ok: boolean;
  /** libpcap's own message when it did not (`pcap_geterr` after `pcap_compile`), e.g. "can't parse filter expression: syntax error". */
  error?: string;
  /** LINKTYPE_* the filter was compiled for. */
  linkType: number;
}

let filterCheckDir: string | null = null;

/** A 24-byte classic pcap file with no packets and link type `linkType` (draft-ietf-opsawg-pcap §4). */
function emptyPcapFile(linkType: number): string {
  if (filterCheckDir === null || !fs.existsSync(filterCheckDir)) filterCheckDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netbaseline-bpf-'));
  const file = path.join(filterCheckDir, `empty-${linkType}.pcap`);
  if (!fs.existsSync(file)) {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(65535, 16);
    h.writeUInt32LE(linkType, 20);
    fs.writeFileSync(file, h);
  }
  return file;
}

/**
 * Compiles a BPF filter (pcap-filter(7) syntax) with the runtime's libpcap, without opening an
 * interface: node_pcap has no compile call, so an OFFLINE session is opened on an empty pcap file of
 * the given link type with the filter (libpcap runs `pcap_compile` + `pcap_setfilter` on it), then
 * released at once. That release is safe, unlike a live session's (see {@link LiveCapture}): an
 * offline session has no poll watcher; `close()` sets libpcap's break flag and the following
 * `dispatch()` returns -2, on which node_pcap calls `pcap_close` synchronously. This holds also when
 * the filter did not compile (the handle is open then and is released the same way).
 *
 * Host names in a filter are resolved (as libpcap does), so this may block briefly on DNS.
 * @param linkType - LINKTYPE_* to compile for (default Ethernet; see {@link filterLinkTypeFor}).
 * @throws {LiveCaptureError} PCAP_UNAVAILABLE when libpcap / the pcap module is missing.
 */
export function checkBpfFilter(filter: string, linkType: number = LINKTYPE_ETHERNET, binding: PcapBindingLike = loadPcapBinding()): BpfFilterCheck {
  if (typeof filter !== 'string' || filter.trim() === '') return { ok: true, linkType };
  const file = emptyPcapFile(linkType);
  const session = new binding.PcapSession();
  let error: string | undefined;
  let opened = true;
  try {
    session.open_offline(file, filter, 0, 65535, '', () => {}, false, 0, () => {}, false);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    // pcap_open_offline itself failed (no handle to release): its messages name the file
    if (error.includes(file) || /unknown file format|bad dump file|truncated dump file|archive/i.test(error)) opened = false;
  }
  if (opened) {
    session.close();
    session.dispatch(Buffer.alloc(1), Buffer.alloc(16));
  } else {
    throw new LiveCaptureError('OPEN_FAILED', `cannot check the BPF filter: ${error ?? ''}`);
  }
  return error === undefined ? { ok: true, linkType } : { ok: false, error, linkType };
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

/** Default snap length for live capture, bytes: the headers are all the decoder needs (Ethernet + 2 VLAN tags + IPv6 + TCP with options fit in 128 bytes in most traffic; a longer header chain is flagged TRANSPORT_TRUNCATED), and copying whole frames costs about a third of the throughput. */
export const DEFAULT_SNAP_LENGTH = 128;
/**
 * Default kernel capture buffer, bytes: 32 MiB. node_pcap's own default is 10 MiB; with the
 * aggregation in the same process a window close at 200,000 packet/s overran 10 MiB (a few hundred
 * kernel drops), 32 MiB held up to tcpreplay's 300,000 packet/s (BENCHMARKS.md, live capture).
 */
export const DEFAULT_BUFFER_SIZE = 32 * 1024 * 1024;
/** Default longest time between two batches, ms. */
export const DEFAULT_FLUSH_INTERVAL_MS = 250;

/** IFF_UP, bit 0 of a Linux interface's flags (linux/if.h, netdevice(7)). */
const IFF_UP = 0x1;

/**
 * True when the interface exists but is administratively down (`ip link set … down`): read from
 * `/sys/class/net/<iface>/flags` (Linux). False where that cannot be read (other systems, `any`):
 * there only an interface that disappears is detected.
 */
export function linkIsDown(iface: string, readFlags: (iface: string) => string = (i) => fs.readFileSync(`/sys/class/net/${i}/flags`, 'utf8')): boolean {
  if (!/^[A-Za-z0-9_.:@-]+$/.test(iface)) return false;
  let text: string;
  try { text = readFlags(iface); } catch { return false; }
  const flags = Number.parseInt(text.trim(), 16);
  return Number.isFinite(flags) && (flags & IFF_UP) === 0;
}

/** What {@link LiveCaptureOptions.onInterfaceState} receives. */
export interface InterfaceStateEvent {
  /**
   * `down`: the interface disappeared or went down (see {@link reason}), the handle was closed;
   * `retrying`: a reopen failed; `up`: capturing again.
   */
  state: 'down' | 'retrying' | 'up';
  /** With `down`: `gone` (no longer listed by libpcap) or `link-down` (listed, but not up). */
  reason?: 'gone' | 'link-down';
  /** A sentence for the log: what happened and what the capture does about it. */
  message: string;
  /** Delay until the next reopen attempt, ms (`down`, `retrying`). */
  retryInMs?: number;
}

/** Options of a {@link LiveCapture}. */
export interface LiveCaptureOptions {
  /** Interface name, e.g. `eth0`, `lo`, `any`. */
  interface: string;
  /** BPF filter (pcap-filter(7) syntax); empty: everything. */
  filter?: string;
  /** Bytes captured per packet (default {@link DEFAULT_SNAP_LENGTH} = 128). */
  snapLength?: number;
  /** Kernel capture buffer, bytes (default {@link DEFAULT_BUFFER_SIZE} = 32 MiB). */
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
  /**
   * Receives libpcap's warnings while opening (e.g. "eth1: no IPv4 address assigned": the filter is
   * compiled with netmask 0, which matters only for `ip broadcast`). Default: ignored (node_pcap
   * would print them to the console).
   */
  onWarning?: (message: string) => void;
  /** Loads the pcap module (default {@link loadPcapModule}); for tests. */
  loadPcap?: () => PcapModuleLike;
  /**
   * How often the interface is checked for being still there (`pcap_findalldevs`), ms (default
   * 2000; 0: never). libpcap reports nothing when an interface disappears: the capture just stays
   * silent. When it is gone the handle is closed and reopened with back-off (see {@link retry}).
   */
  healthCheckIntervalMs?: number;
  /** Back-off of the reopen attempts after the interface was lost: first delay, doubled up to the maximum, ms (default 1000 … 30000). */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Told when the interface is lost (`down`), on each failed reopen (`retrying`) and when the capture resumed (`up`). */
  onInterfaceState?: (event: InterfaceStateEvent) => void;
  /**
   * Checks the filter before the interface is opened (default: {@link checkBpfFilter} for the
   * interface's expected link type, when `loadPcap` is not given). A filter that fails here is
   * reported as BAD_FILTER without opening a live handle (node_pcap leaves a live handle open when
   * its filter does not compile).
   */
  checkFilter?: ((filter: string, iface: string) => BpfFilterCheck) | null;
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

/**
 * Sessions libpcap has released, kept referenced for the life of the process. node_pcap stops the
 * session's libuv poll handle (`uv_poll_stop`) but never closes it (`uv_close`), and the handle is a
 * member of the native session object: once that object is garbage-collected, libuv's list of
 * handles points into freed memory, and the next handle the loop registers writes into it (seen as
 * a SIGSEGV after many live starts and stops in one process). An object kept here costs a few
 * hundred bytes (plus the snap-length buffer) per capture start; starts are operator actions.
 */
const releasedSessions: PcapSessionLike[] = [];

function releaseWhenClosed(session: PcapSessionLike): void {
  closingSessions.add(session);
  if (closingTimer) return;
  closingTimer = setInterval(() => {
    for (const s of closingSessions) {
      try { s.stats(); } catch { closingSessions.delete(s); releasedSessions.push(s); }
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
 * after {@link stop} or {@link pause}.
 *
 * Timestamps, as for files (see `replayCaptureFile`): a packet time earlier than the latest so far
 * by at most {@link MAX_CLAMPED_BACK_STEP_MS} (60 s) is clamped to that latest time and counted in
 * `counters.timeClamped`; a larger step back (the system clock was stepped back) starts a new time
 * epoch: the packets so far are sent as a batch with `final: true` (windows downstream close and
 * flows are forgotten), it is counted in `counters.timeEpochs` (already in that batch), and the
 * capture goes on with the new times, unclamped. The capture itself keeps running.
 *
 * A lost interface (unplugged USB adapter, deleted veth, renamed link): libpcap says nothing, so the
 * interface list is checked every `healthCheckIntervalMs`; once it is gone the handle is closed, no
 * batches are sent (an outage is not zero traffic for the baselines), and it is reopened after 1 s,
 * 2 s, 4 s … at most 30 s apart; counters and the batch sequence go on when it is back
 * ({@link LiveCaptureOptions.onInterfaceState} tells each step).
 */
export class LiveCapture {
  private readonly opts: LiveCaptureOptions;
  private readonly builder: PacketBatchBuilder;
  private session: PcapSessionLike | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastStats: LiveCaptureStats | null = null;
  /** Statistics of the sessions before the current one (a pause closes the handle; libpcap's counters restart). */
  private statsBase: LiveCaptureStats = { received: 0, droppedByKernel: 0, droppedByInterface: 0 };
  private lastTimeMs = -Infinity;
  private littleEndianHeader = true;
  private ended = false;
  /** LINKTYPE_* of the interface once started. */
  linkType = -1;

  /** @throws {RangeError} for a bad batch size. */
  constructor(options: LiveCaptureOptions) {
    this.opts = options;
    this.builder = new PacketBatchBuilder(options.batchSize ?? DEFAULT_BATCH_SIZE);
  }

  /** True between a successful {@link start} and {@link stop} / {@link pause}. */
  get running(): boolean {
    return this.session !== null;
  }

  /** True after {@link pause} until the next {@link start}. */
  paused = false;

  /** The decoder's cumulative counters (a copy): packets read, decoded, non-IP, malformed… */
  get counters(): DecodeCounters {
    return { ...this.builder.counters };
  }

  /**
   * Opens the interface and starts capturing; after {@link pause} (or while the interface is lost),
   * opens it again at once and goes on with the same batch sequence and cumulative counters. A no-op
   * while running or after {@link stop}.
   * @throws {LiveCaptureError} PCAP_UNAVAILABLE, NO_SUCH_INTERFACE (message lists the interfaces),
   *   PERMISSION_DENIED (message says how to grant capabilities), BAD_FILTER (libpcap's message) or
   *   OPEN_FAILED.
   */
  start(): void {
    if (this.session || this.ended) return;
    this.clearRetry();
    this.openSession();
  }

  /** True while the interface is lost and reopen attempts are scheduled. */
  get down(): boolean {
    return this.retryTimer !== null;
  }

  private retryTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 0;

  private clearRetry(): void {
    if (this.retryTimer) { clearTimeout(this.retryTimer); this.retryTimer = null; }
  }

  private notify(event: InterfaceStateEvent): void {
    try { this.opts.onInterfaceState?.(event); } catch (err) { this.opts.onError?.(err as Error); }
  }

  /** The interface is gone or down: close the handle (keeping counters and sequence), reopen with back-off. */
  private interfaceLost(reason: 'gone' | 'link-down'): void {
    if (!this.session) return;
    this.closeSession();
    this.flush(false);
    this.retryDelayMs = this.opts.retry?.initialDelayMs ?? 1000;
    const what = reason === 'gone' ? 'disappeared' : 'went down';
    this.notify({ state: 'down', reason, message: `interface "${this.opts.interface}" ${what}; capture suspended, reopening it every ${Math.round(this.retryDelayMs / 1000)} s or so (up to ${Math.round((this.opts.retry?.maxDelayMs ?? 30000) / 1000)} s apart) until it is back`, retryInMs: this.retryDelayMs });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.ended || this.paused || this.session) return;
      try {
        if (linkIsDown(this.opts.interface)) throw new Error('the interface is down');
        this.openSession();
        this.notify({ state: 'up', message: `interface "${this.opts.interface}" is back: capturing again` });
      } catch (err) {
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.opts.retry?.maxDelayMs ?? 30000);
        this.notify({ state: 'retrying', message: `interface "${this.opts.interface}" cannot be opened yet (${(err as Error).message.split(';')[0]}); next try in ${Math.round(this.retryDelayMs / 1000)} s`, retryInMs: this.retryDelayMs });
        this.scheduleRetry();
      }
    }, this.retryDelayMs);
  }

  private checkInterface(pcap: PcapModuleLike): void {
    if (!this.session || this.opts.interface === 'any') return;
    let names: string[];
    try { names = listInterfaces(pcap); } catch { return; }
    if (!names.includes(this.opts.interface)) this.interfaceLost('gone');
    else if (linkIsDown(this.opts.interface)) this.interfaceLost('link-down');
  }

  private openSession(): void {
    const o = this.opts;
    const pcap = (o.loadPcap ?? loadPcapModule)();
    const iface = o.interface;
    let names: string[] = [];
    try { names = listInterfaces(pcap); } catch { /* listing is advisory */ }
    if (!iface || (names.length > 0 && !names.includes(iface))) {
      throw new LiveCaptureError('NO_SUCH_INTERFACE', `no such interface "${iface ?? ''}"; available: ${names.join(', ') || '(none found)'}`);
    }
    const filter = o.filter ?? '';
    const check = o.checkFilter !== undefined ? o.checkFilter
      : o.loadPcap ? null : (f: string, i: string) => checkBpfFilter(f, filterLinkTypeFor(i));
    if (filter !== '' && check) {
      let result: BpfFilterCheck | null = null;
      try { result = check(filter, iface); } catch { /* could not check: libpcap checks it on open */ }
      if (result && !result.ok) throw new LiveCaptureError('BAD_FILTER', `invalid BPF filter "${filter}": ${result.error ?? 'rejected by libpcap'}`);
    }
    let session: PcapSessionLike;
    try {
      pcap.warningHandler = (w: string) => { try { o.onWarning?.(String(w)); } catch { /* a warning must not stop the open */ } };
      session = pcap.createSession(iface, {
        filter,
        snap_length: o.snapLength ?? DEFAULT_SNAP_LENGTH,
        buffer_size: o.bufferSize ?? DEFAULT_BUFFER_SIZE,
        promiscuous: o.promiscuous ?? true,
        buffer_timeout: o.bufferTimeoutMs ?? 100,
      });
    } catch (err) {
      throw mapOpenError(err, iface, filter, names);
    }
    this.session = session;
    this.paused = false;
    this.lastStats = null;
    this.linkType = linkTypeNumber(session.link_type);
    this.littleEndianHeader = os.endianness() === 'LE'; // node_pcap copies the header fields in host byte order
    session.on('packet', (raw) => this.onPacket(raw.buf, raw.header));
    const interval = o.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.timer = setInterval(() => this.flush(false), interval > 0 ? interval : DEFAULT_FLUSH_INTERVAL_MS);
    const health = o.healthCheckIntervalMs ?? 2000;
    if (health > 0) this.healthTimer = setInterval(() => this.checkInterface(pcap), health);
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
      if (t >= this.lastTimeMs) this.lastTimeMs = t;
      else if (this.lastTimeMs - t <= MAX_CLAMPED_BACK_STEP_MS) { t = this.lastTimeMs; this.builder.counters.timeClamped++; }
      else {
        // the system clock was stepped back by more than a minute: a new time epoch (see the class doc)
        const c = this.builder.counters;
        c.timeEpochs = (c.timeEpochs ?? 0) + 1;
        this.flush(true);
        this.lastTimeMs = t;
      }
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

  /**
   * Capture statistics since the first start (summed over pauses), or the last ones read (after
   * stop / pause), or null when never started. Reads `pcap_stats`, so counts are what the kernel
   * reported at this moment.
   */
  stats(): LiveCaptureStats | null {
    if (this.session) {
      try {
        const s = this.session.stats();
        const b = this.statsBase;
        this.lastStats = { received: b.received + s.ps_recv, droppedByKernel: b.droppedByKernel + s.ps_drop, droppedByInterface: b.droppedByInterface + s.ps_ifdrop };
      } catch { /* keep the last ones */ }
    }
    return this.lastStats ?? (this.statsBase.received + this.statsBase.droppedByKernel + this.statsBase.droppedByInterface > 0 ? { ...this.statsBase } : null);
  }

  /** Closes the handle (kept referenced until libpcap releases it) and stops the flush timer. */
  private closeSession(): void {
    this.stats();
    if (this.lastStats) this.statsBase = { ...this.lastStats };
    this.lastStats = null;
    const session = this.session!;
    this.session = null;
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    if (this.healthTimer) { clearInterval(this.healthTimer); this.healthTimer = null; }
    try { session.close(); } catch { /* already closed */ }
    releaseWhenClosed(session);
  }

  /**
   * Pauses: closes the handle (nothing is captured while paused; packets on the link meanwhile are
   * not seen and not counted as drops) and sends the packets decoded so far as a non-final batch.
   * Counters, statistics and the batch sequence go on after {@link start}. A no-op unless running.
   */
  pause(): void {
    if (this.down) { this.clearRetry(); this.paused = true; return; }
    if (!this.session) return;
    this.closeSession();
    this.paused = true;
    this.flush(false);
  }

  /** Stops the capture: closes the session, clears the timer, sends the final batch. Idempotent; also ends a paused capture. */
  stop(): void {
    if (this.ended || (!this.session && !this.paused && !this.down)) return;
    this.clearRetry();
    if (this.session) this.closeSession();
    this.paused = false;
    this.ended = true;
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
