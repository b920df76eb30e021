'use strict';
/**
 * The benchmark of issue #8 (`npm run bench` = `node bench/run.js`; not part of `npm test`).
 *
 *   node bench/run.js [--packets 5000000] [--runs 3] [--variants full,snap96] [--skip a,b] [--only a,b]
 *                     [--diagnostics] [--memory-n 1000000] [--no-memory] [--no-alloc] [--profile] [--no-live] [--live-rates r1,r2,…]
 *                     [--json FILE] [--markdown FILE]
 *
 * 1. Generates (or reuses) the seeded synthetic capture (bench/generate.js) in <tmp>/netbaseline-bench.
 * 2. For each variant (full-size, 96-byte snaplen) and each of `--runs` rounds, runs every step in its
 *    own child process, round-robin so that machine noise hits every step alike:
 *    `decode` (reading + decoding), `aggregate` (+ flow aggregation), `pipeline` (the whole core
 *    pipeline: aggregation, baselines, rules, cooldown), `nodered` (the six nodes in a real Node-RED 4,
 *    bench/nodered.js), and the tools `argus`, `nfpcapd`, `softflowd`, `tshark` (bench/tools.js; a
 *    missing tool is reported with how to install it and its row left out).
 *    With --diagnostics also steps 2–4 without flow records (2b, 3b, 4b), to show what they cost.
 *    Reported: packets per second = packet records in the file / seconds, median over the rounds;
 *    the ratio of that to argus's median, and the median over the rounds of the ratio to argus in
 *    the same round; peak RSS (max over the rounds; /usr/bin/time -v, or VmHWM);
 *    for our steps the peak V8 heap (used) and array buffers.
 * 3. Memory per tracked flow and per baselined key at `--memory-n` of each (bench/worker.js, --expose-gc).
 * 4. Event-loop delay inside Node-RED (p99, from the `nodered` step).
 * 5. Allocation check of the per-packet path (decode, decode + aggregation): sampled allocations
 *    (collected objects included) and scavenges per million packets.
 * 5b. With --profile: CPU profiles (node --cpu-prof) of the aggregation and pipeline steps, top frames.
 * 6. Live capture through a veth pair in a network namespace (bench/live.js; root and `ip` needed).
 *
 * Results: the table on stdout, all numbers as JSON in --json (default <tmp>/netbaseline-bench/results-<time>.json),
 * optionally the table as Markdown in --markdown.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ensureCapture, parseArgs, numberArg } = require('./generate');
const { measure, availableTools, runTool, GNU_TIME } = require('./tools');

const root = path.resolve(__dirname, '..');
const OUR_STEPS = ['decode', 'aggregate', 'pipeline', 'nodered'];
const TOOL_STEPS = ['argus', 'nfpcapd', 'softflowd', 'tshark'];
/** --diagnostics: steps 2–4 again without flow records (flow-aggregator scopes interface, dstHost, srcHost). */
const DIAGNOSTIC_STEPS = ['aggregate-hosts', 'pipeline-hosts', 'nodered-hosts'];
const LABEL = {
  decode: '1. read + decode (ours)',
  aggregate: '2. decode + flow aggregation (ours)',
  pipeline: '3. whole core pipeline (ours)',
  nodered: '4. six nodes in Node-RED 4 (ours)',
  'aggregate-hosts': '2b. as 2, no flow records (ours)',
  'pipeline-hosts': '3b. as 3, no flow records (ours)',
  'nodered-hosts': '4b. as 4, no flow records (ours)',
  argus: 'argus -r',
  nfpcapd: 'nfpcapd -r',
  softflowd: 'softflowd -r',
  tshark: 'tshark -q -z conv,ip',
};

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const mb = (b) => (b / (1 << 20)).toFixed(0);
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

function machine() {
  const cpu = (() => { try { return /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))[1]; } catch { return os.cpus()[0]?.model || '?'; } })();
  const version = (cmd, args, re) => { try { const r = spawnSync(cmd, args, { encoding: 'utf8' }); const m = re.exec(`${r.stdout}${r.stderr}`); return m ? m[1] : null; } catch { return null; } };
  return {
    nproc: os.cpus().length, cpu, memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1), node: process.version, kernel: os.release(),
    loadavg: os.loadavg().map((x) => +x.toFixed(2)),
    tools: {
      argus: version('argus', ['-h'], /Argus Version ([\d.]+)/i) || version('/usr/sbin/argus', ['-h'], /Argus Version ([\d.]+)/i),
      nfpcapd: version('nfpcapd', ['-V'], /Version:\s*([^\s]+)/i),
      softflowd: version('softflowd', ['-h'], /softflowd version ([\d.]+)/i),
      tshark: version('tshark', ['-v'], /TShark \(Wireshark\) ([\d.]+)/),
    },
  };
}

/** Runs one of our worker steps in a child process. */
async function runWorker(step, extraNodeArgs = [], timeoutMs = 60 * 60_000) {
  const r = await measure(process.execPath, [...extraNodeArgs, path.join(__dirname, 'worker.js'), ...step], { timeoutMs, cwd: root });
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (r.code !== 0 || !line) return { ok: false, error: `exit ${r.code} ${r.signal || ''}: ${r.stderr.slice(-1500)}`, wallSeconds: r.wallSeconds };
  return { ok: true, ...JSON.parse(line.slice('BENCH_RESULT '.length)), wallSeconds: r.wallSeconds, peakRssBytes: r.peakRssBytes };
}

async function measureStep(step, file, packets, tools) {
  if (['decode', 'aggregate', 'pipeline', 'aggregate-hosts', 'pipeline-hosts'].includes(step)) {
    const r = await runWorker([step, file]);
    if (!r.ok) return r;
    return { ok: true, seconds: r.seconds, pps: r.packets / r.seconds, packets: r.packets, peakRssBytes: r.peakRssBytes, peakHeapBytes: r.peak.heapUsed, peakArrayBuffersBytes: r.peak.arrayBuffers, detail: r };
  }
  if (step === 'nodered' || step === 'nodered-hosts') {
    const { runOnce } = require('./nodered');
    const r = await runOnce(file, { hostsOnly: step === 'nodered-hosts' });
    if (!r.ok) return r;
    return { ok: true, seconds: r.seconds, pps: r.pps, packets: r.packets, peakRssBytes: r.peakRssBytes, peakHeapBytes: r.peakHeapUsedBytes, peakArrayBuffersBytes: r.peakArrayBuffersBytes, eventLoopDelayMs: r.eventLoopDelayMs, detail: r };
  }
  const tool = tools.find((t) => t.name === step);
  const r = await runTool(tool, file, 60 * 60_000);
  if (!r.ok) return { ok: false, error: `${step} exit ${r.code} ${r.signal || ''}: ${r.stderr.slice(-800)}` };
  return { ok: true, seconds: r.wallSeconds, pps: packets / r.wallSeconds, packets, peakRssBytes: r.peakRssBytes };
}

function summarizeRows(results, steps) {
  const rows = [];
  for (const step of steps) {
    const runs = results.filter((r) => r.step === step && r.ok);
    if (runs.length === 0) continue;
    const pps = median(runs.map((r) => r.pps));
    rows.push({
      step, label: LABEL[step], runs: runs.length, pps, seconds: median(runs.map((r) => r.seconds)),
      ppsAll: runs.map((r) => Math.round(r.pps)),
      peakRssBytes: Math.max(...runs.map((r) => r.peakRssBytes || 0)),
      peakHeapBytes: runs[0].peakHeapBytes !== undefined ? Math.max(...runs.map((r) => r.peakHeapBytes || 0)) : undefined,
      eventLoopDelayP99Ms: runs[0].eventLoopDelayMs ? median(runs.map((r) => r.eventLoopDelayMs.p99)) : undefined,
    });
  }
  const argus = rows.find((r) => r.step === 'argus');
  for (const r of rows) {
    r.ratioToArgus = argus ? r.pps / argus.pps : NaN;
    // the ratio within each round (same machine state), then the median over the rounds
    const perRound = [];
    for (const x of results.filter((y) => y.step === r.step && y.ok)) {
      const g = results.find((y) => y.step === 'argus' && y.ok && y.round === x.round);
      if (g) perRound.push(x.pps / g.pps);
    }
    r.ratioToArgusSameRound = perRound.length ? median(perRound) : NaN;
  }
  return rows;
}

function table(rows, variant, packets) {
  const head = ['step', 'packets/s (median)', '× argus', '× argus, same round (median)', 'seconds', 'peak RSS MiB', 'peak heap MiB', 'runs (packets/s)'];
  const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
  const body = rows.map((r) => [
    r.label, fmtInt(r.pps), ratio(r.ratioToArgus), ratio(r.ratioToArgusSameRound), r.seconds.toFixed(2), mb(r.peakRssBytes),
    r.peakHeapBytes !== undefined ? mb(r.peakHeapBytes) : '–', r.ppsAll.map(fmtInt).join(' / '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  const text = [`capture: ${variant}, ${fmtInt(packets)} packets`, line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
  const md = [`**${variant}** capture, ${fmtInt(packets)} packets`, '', `| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map((b) => `| ${b.join(' | ')} |`)].join('\n');
  return { text, md };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.help === true || a.h === true) {
    const doc = fs.readFileSync(__filename, 'utf8').split('*/')[0].replace(/^'use strict';\n/, '').replace(/^\/\*\*?|^ \* ?/gm, '');
    console.log(doc.trim());
    return;
  }
  const packets = numberArg(a, 'packets') ?? 5_000_000;
  const runs = numberArg(a, 'runs') ?? 3;
  const variants = String(a.variants || 'full,snap96').split(',').filter(Boolean);
  for (const v of variants) if (v !== 'full' && v !== 'snap96') throw new Error(`--variants: full and/or snap96, got ${v}`);
  const only = a.only ? String(a.only).split(',') : null;
  const skip = a.skip ? String(a.skip).split(',') : [];
  const memoryN = numberArg(a, 'memory-n') ?? 1_000_000;
  const started = new Date();
  const jsonOut = a.json || path.join(os.tmpdir(), 'netbaseline-bench', `results-${started.toISOString().replace(/[:.]/g, '-')}.json`);

  const info = machine();
  console.log(`netbaseline benchmark — ${started.toISOString()}`);
  console.log(`machine: ${info.nproc} CPUs (${info.cpu}), ${info.memoryGiB} GiB, Node ${info.node}, Linux ${info.kernel}, load average ${info.loadavg.join(' ')}`);
  if (!GNU_TIME) console.log('note: /usr/bin/time -v not available: peak RSS read from /proc/<pid>/status VmHWM while each process runs');

  const { found: tools, missing } = availableTools();
  for (const m of missing) console.log(`skipping ${m}`);
  const wanted = (s) => (!only || only.includes(s)) && !skip.includes(s);
  const steps = [...OUR_STEPS, ...(a.diagnostics === true ? DIAGNOSTIC_STEPS : []), ...tools.map((t) => t.name)].filter(wanted);

  const tg = process.hrtime.bigint();
  const cap = ensureCapture({ packets });
  console.log(`capture: ${cap.cached ? 'reused' : `generated in ${(Number(process.hrtime.bigint() - tg) / 1e9).toFixed(1)} s`}: ${cap.full} (${mb(cap.meta.fileBytes.full)} MiB), ${cap.snap} (${mb(cap.meta.fileBytes.snap96)} MiB); ${fmtInt(cap.meta.counts.sessions)} sessions, ${fmtInt(cap.meta.options.sessions)} concurrent`);
  const out = { started: started.toISOString(), command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(), machine: info, capture: cap.meta, runs, variants: {}, missingTools: missing };
  const save = () => { fs.mkdirSync(path.dirname(jsonOut), { recursive: true }); fs.writeFileSync(jsonOut, JSON.stringify(out, null, 2)); };

  if (steps.includes('nodered') || steps.includes('nodered-hosts')) {
    process.stdout.write('preparing Node-RED 4 with the packed package … ');
    require('./nodered').prepare();
    console.log('done');
  }

  const mdParts = [];
  for (const variant of variants) {
    const file = variant === 'full' ? cap.full : cap.snap;
    const results = [];
    for (let round = 1; round <= runs; round++) {
      for (const step of steps) {
        process.stdout.write(`[${variant} ${round}/${runs}] ${step} … `);
        const r = await measureStep(step, file, cap.meta.counts.packets, tools);
        results.push({ step, round, ...r });
        console.log(r.ok ? `${fmtInt(r.pps)} packets/s, ${r.seconds.toFixed(2)} s, peak RSS ${mb(r.peakRssBytes || 0)} MiB${r.eventLoopDelayMs ? `, event-loop delay p99 ${r.eventLoopDelayMs.p99.toFixed(1)} ms` : ''}` : `FAILED: ${r.error}`);
        if (r.ok && r.detail && r.detail.handlers && !r.detail.handlers.error) {
          // which node's input handler held the event loop (synchronous part, Node-RED message hooks)
          const hs = Object.entries(r.detail.handlers).filter(([, h]) => h.maxMs >= 10).sort((x, y) => y[1].maxMs - x[1].maxMs);
          for (const [type, h] of hs) console.log(`    ${type.padEnd(18)} longest handler ${h.maxMs.toFixed(0).padStart(5)} ms, ${String(h.over50ms).padStart(3)} of ${h.calls} calls > 50 ms, ${(h.totalMs / 1000).toFixed(1)} s in all`);
        }
        out.variants[variant] = { file, results };
        save();
      }
    }
    const rows = summarizeRows(results, steps);
    out.variants[variant].rows = rows;
    const t = table(rows, variant, cap.meta.counts.packets);
    console.log(`\n${t.text}\n`);
    mdParts.push(t.md);
    save();
  }

  if (a['no-memory'] !== true && wanted('memory')) {
    process.stdout.write(`memory per tracked flow at ${fmtInt(memoryN)} flows … `);
    const f = await runWorker(['memory-flows', String(memoryN)], ['--expose-gc', '--max-old-space-size=8192']);
    console.log(f.ok ? `${f.bytesPerFlow.toFixed(1)} bytes/flow (heap ${f.heapBytesPerFlow.toFixed(1)} + typed arrays ${f.arrayBufferBytesPerFlow.toFixed(1)}), ${fmtInt(f.flows)} flows` : `FAILED: ${f.error}`);
    process.stdout.write(`memory per baselined key at ${fmtInt(memoryN)} keys … `);
    const k = await runWorker(['memory-keys', String(memoryN)], ['--expose-gc', '--max-old-space-size=8192']);
    console.log(k.ok ? `${k.bytesPerKey.toFixed(1)} bytes/key, ${fmtInt(k.keys)} keys` : `FAILED: ${k.error}`);
    out.memory = { flows: f, keys: k };
    save();
  }

  if (a['no-alloc'] !== true && wanted('alloc')) {
    const file = variants.includes('full') ? cap.full : cap.snap;
    out.alloc = {};
    for (const stage of ['decode', 'aggregate']) {
      process.stdout.write(`allocation check (${stage}) … `);
      const r = await runWorker(['alloc', file, stage]);
      out.alloc[stage] = r;
      if (!r.ok) { console.log(`FAILED: ${r.error}`); continue; }
      console.log(`${r.sampledBytesPerPacket.toFixed(2)} sampled bytes/packet, ${r.scavengesPerMillionPackets.toFixed(1)} scavenges and ${r.markSweepsPerMillionPackets.toFixed(1)} mark-sweeps per million packets`);
      for (const t of r.top.slice(0, 6)) console.log(`    ${String(t.bytesPerPacket).padStart(8)} B/packet  ${t.frame}  ← ${t.caller}`);
    }
    save();
  }

  if (a.profile === true) {
    // CPU profiles (node --cpu-prof) of the aggregation and pipeline steps: top frames by self time
    const { summarize } = require('./profile-summary');
    const file = variants.includes('full') ? cap.full : cap.snap;
    out.cpuProfiles = {};
    for (const stage of ['aggregate', 'pipeline']) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-bench-cpuprof-'));
      process.stdout.write(`CPU profile (${stage}) … `);
      const r = await runWorker([stage, file], ['--cpu-prof', '--cpu-prof-dir', dir]);
      const prof = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (!r.ok || !prof) { console.log(`FAILED: ${r.error || 'no profile written'}`); continue; }
      const s = summarize(path.join(dir, prof), 12);
      out.cpuProfiles[stage] = { profile: path.join(dir, prof), ...s };
      console.log(`${(s.totalMs / 1000).toFixed(1)} s profiled (${path.join(dir, prof)})`);
      for (const f of s.frames) console.log(`    ${String(f.percent).padStart(5)} %  ${f.frame}`);
    }
    save();
  }

  if (a['no-live'] !== true && wanted('live')) {
    const { runLive } = require('./live');
    out.live = await runLive({ file: cap.full, rates: a['live-rates'] ? String(a['live-rates']).split(',').map(Number) : undefined, log: (s) => console.log(s) });
    save();
  }

  if (a.markdown) fs.writeFileSync(a.markdown, `${mdParts.join('\n\n')}\n`);
  out.finished = new Date().toISOString();
  out.machine.loadavgAtEnd = os.loadavg().map((x) => +x.toFixed(2));
  save();
  console.log(`\nresults: ${jsonOut}`);
}

main().catch((err) => { console.error(err && err.stack || err); process.exit(1); });
