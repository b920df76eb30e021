'use strict';
/**
 * Measures child processes: wall time (process.hrtime around spawn → exit) and peak RSS
 * (`/usr/bin/time -v` "Maximum resident set size" when present, else the last VmHWM read from
 * /proc/<pid>/status while the process runs), and the established flow tools the benchmark compares
 * against: argus, nfdump's nfpcapd, softflowd and tshark (Debian packages argus-server, nfdump,
 * softflowd, tshark).
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const TIME_BIN = '/usr/bin/time';
const INSTALL_HINT = 'apt-get install argus-server nfdump softflowd tshark';

/** Absolute path of `name` on PATH or in the sbin folders, or null. */
function which(name) {
  const dirs = [...(process.env.PATH || '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

function hasGnuTime() {
  if (!fs.existsSync(TIME_BIN)) return false;
  const r = spawnSync(TIME_BIN, ['-v', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /Maximum resident set size/.test(r.stderr);
}
const GNU_TIME = hasGnuTime();

function readHwmKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

/**
 * Runs `cmd args` to completion.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ timeoutMs?: number, cwd?: string, env?: object }} [options]
 * @returns {Promise<{ code: number|null, signal: string|null, wallSeconds: number, peakRssBytes: number, stdout: string, stderr: string }>}
 * @throws never: a failure to start gives code null and the error in stderr
 */
function measure(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const argv = GNU_TIME ? ['-v', cmd, ...args] : args;
    const bin = GNU_TIME ? TIME_BIN : cmd;
    let stdout = '', stderr = '';
    let hwm = 0;
    const t0 = process.hrtime.bigint();
    const child = spawn(bin, argv, { cwd: options.cwd, env: options.env || process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => { stdout += d; if (stdout.length > 1 << 20) stdout = stdout.slice(-(1 << 19)); });
    child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19)); });
    const poll = GNU_TIME ? null : setInterval(() => { hwm = Math.max(hwm, readHwmKb(child.pid)); }, 50);
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : null;
    child.on('error', (err) => { stderr += String(err); });
    child.on('close', (code, signal) => {
      const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      let peakKb = hwm;
      if (GNU_TIME) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
        if (m) peakKb = Number(m[1]);
        const st = /Exit status: (\d+)/.exec(stderr);
        if (st && code === 0) code = Number(st[1]);
      }
      resolve({ code, signal, wallSeconds, peakRssBytes: peakKb * 1024, stdout, stderr });
    });
  });
}

/**
 * The comparison tools. Each `command(file, scratch)` returns [cmd, args]; output goes to `scratch`
 * (a fresh temporary folder per run) or to a UDP port on 127.0.0.1 where nothing listens.
 */
const TOOLS = [
  {
    name: 'argus', bin: 'argus', package: 'argus-server',
    describe: 'argus -r FILE -w OUT.argus',
    command: (bin, file, scratch) => [bin, ['-r', file, '-w', path.join(scratch, 'out.argus')]],
  },
  {
    name: 'nfpcapd', bin: 'nfpcapd', package: 'nfdump',
    describe: 'nfpcapd -r FILE -w DIR',
    command: (bin, file, scratch) => [bin, ['-r', file, '-w', scratch]],
  },
  {
    name: 'softflowd', bin: 'softflowd', package: 'softflowd',
    // -c none: no control socket (with one, softflowd 1.1.0 blocks in accept() after reading a file)
    describe: 'softflowd -r FILE -n 127.0.0.1:9 -v 9 -m 100000 -c none -d',
    command: (bin, file, scratch) => [bin, ['-r', file, '-n', '127.0.0.1:9', '-v', '9', '-m', '100000', '-c', 'none', '-p', path.join(scratch, 'softflowd.pid'), '-d']],
  },
  {
    name: 'tshark', bin: 'tshark', package: 'tshark',
    describe: 'tshark -r FILE -q -z conv,ip',
    command: (bin, file) => [bin, ['-r', file, '-q', '-z', 'conv,ip']],
  },
];

/** The tools found on this machine, and a line per missing one saying how to install it. */
function availableTools() {
  const found = [], missing = [];
  for (const t of TOOLS) {
    const bin = which(t.bin);
    if (bin) found.push({ ...t, path: bin });
    else missing.push(`${t.name}: not installed (${t.bin} not found); install with: ${INSTALL_HINT}`);
  }
  return { found, missing };
}

/** Runs one tool on `file` in a fresh scratch folder; removes the folder. */
async function runTool(tool, file, timeoutMs) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `nb-bench-${tool.name}-`));
  try {
    const [cmd, args] = tool.command(tool.path, file, scratch);
    const r = await measure(cmd, args, { timeoutMs, cwd: scratch });
    return { ...r, ok: r.code === 0 };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

module.exports = { measure, availableTools, runTool, which, TOOLS, INSTALL_HINT, GNU_TIME };
