#!/usr/bin/env node
/**
 * `traffic-anomaly <capture>`: runs the detection pipeline (the core of the six nodes) over a pcap
 * or pcapng file and prints one JSON line per alert on stdout; a summary goes to stderr.
 *
 * Exit codes: 0 done (alerts or not), 1 the capture could not be read, 2 bad usage.
 */
import { parseArgs } from 'util';
import { replayCaptureFile } from '../core/replay';
import { DetectionPipeline } from '../core/pipeline';
import { formatAnomaly } from '../core/formatter';
import type { AnomalyEvent } from '../core/contracts';

const USAGE = `Usage: traffic-anomaly [options] <capture.pcap|capture.pcapng>

Replays a capture on packet time through flow-aggregator → ewma-baseline → rule-detector →
cooldown-gate and prints one JSON line per alert (the anomaly event of README "Message contracts").

Options:
  --window-seconds N     aggregation window, packet time (default 10)
  --cooldown-minutes N   per key and rule cooldown, packet time (default 5; 0 passes every alert)
  --bootstrap-minutes N  baseline bootstrap period (default 5)
  --format json|text     json lines (default) or one readable line per alert
  -h, --help             this text`;

function positiveNumber(name: string, raw: string | undefined, fallback: number, allowZero = false): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new RangeError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  return n;
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'window-seconds': { type: 'string' },
        'cooldown-minutes': { type: 'string' },
        'bootstrap-minutes': { type: 'string' },
        format: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    err.write(`traffic-anomaly: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) { out.write(`${USAGE}\n`); return 0; }
  if (positionals.length !== 1) { err.write(`traffic-anomaly: expected one capture file, got ${positionals.length}\n${USAGE}\n`); return 2; }
  const format = values.format ?? 'json';
  if (format !== 'json' && format !== 'text') { err.write(`traffic-anomaly: --format must be json or text\n`); return 2; }

  let pipeline: DetectionPipeline;
  try {
    const windowMs = positiveNumber('window-seconds', values['window-seconds'], 10) * 1000;
    const cooldownMs = positiveNumber('cooldown-minutes', values['cooldown-minutes'], 5, true) * 60_000;
    const bootstrapMs = positiveNumber('bootstrap-minutes', values['bootstrap-minutes'], 5, true) * 60_000;
    pipeline = new DetectionPipeline({ aggregator: { windowMs }, baseline: { bootstrapMs }, cooldown: cooldownMs === 0 ? false : { cooldownMs } });
  } catch (e) {
    err.write(`traffic-anomaly: ${(e as Error).message}\n`);
    return 2;
  }

  const print = (events: AnomalyEvent[]) => {
    for (const event of events) {
      out.write(format === 'json' ? `${JSON.stringify(event)}\n` : `${String(formatAnomaly(event, 'text').payload)}\n`);
    }
  };
  const file = positionals[0]!;
  try {
    const summary = await replayCaptureFile(file, { onBatch: (batch) => print(pipeline.ingest(batch)), onWarning: (w) => err.write(`traffic-anomaly: warning: ${w}\n`) });
    print(pipeline.flush());
    const s = pipeline.stats;
    err.write(`traffic-anomaly: ${file}: ${summary.packetsRead} packets, ${s.windows} windows, ${s.detected} anomalies detected, ${s.passed} reported\n`);
    if (summary.error) { err.write(`traffic-anomaly: ${summary.error}\n`); return 1; }
    return 0;
  } catch (e) {
    err.write(`traffic-anomaly: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`traffic-anomaly: ${(e as Error).stack}\n`); process.exitCode = 1; });
}
