'use strict';
/**
 * Prints the top frames by self time of a V8 CPU profile (`node --cpu-prof` writes `*.cpuprofile`).
 *
 *   node bench/profile-summary.js <file.cpuprofile> [top=20]
 *
 * Self time of a frame = its sample count × the mean sampling interval; frames are merged by
 * function name, file and line.
 */
const fs = require('fs');
const path = require('path');

/**
 * @param {string} file a .cpuprofile (JSON: nodes with callFrame and hitCount, samples, timeDeltas)
 * @param {number} top how many frames
 * @returns {{ totalMs: number, frames: { frame: string, selfMs: number, percent: number }[] }}
 */
function summarize(file, top = 20) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const totalUs = prof.endTime - prof.startTime;
  const samples = prof.samples.length || 1;
  const perSampleMs = totalUs / 1000 / samples;
  const byFrame = new Map();
  for (const n of prof.nodes) {
    if (!n.hitCount) continue;
    const cf = n.callFrame;
    const url = cf.url ? path.relative(process.cwd(), cf.url.replace(/^file:\/\//, '')) : '';
    const key = `${cf.functionName || '(anonymous)'} ${url}${url ? `:${cf.lineNumber + 1}` : ''}`;
    byFrame.set(key, (byFrame.get(key) || 0) + n.hitCount);
  }
  const frames = [...byFrame.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([frame, hits]) => ({ frame, selfMs: +(hits * perSampleMs).toFixed(1), percent: +((100 * hits) / samples).toFixed(1) }));
  return { totalMs: totalUs / 1000, frames };
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) { console.error('usage: node bench/profile-summary.js <file.cpuprofile> [top]'); process.exit(2); }
  const s = summarize(file, Number(top || 20));
  console.log(`total ${s.totalMs.toFixed(0)} ms`);
  for (const f of s.frames) console.log(`${String(f.percent).padStart(5)} %  ${String(f.selfMs).padStart(8)} ms  ${f.frame}`);
}

module.exports = { summarize };
