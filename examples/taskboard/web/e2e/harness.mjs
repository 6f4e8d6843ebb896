// What the taskboard's browser tests share: where things are, Chromium's
// flags, and starting a taskboard server on a free port. Each test file
// (taskboard.test.mjs, oidc.test.mjs, passkey.test.mjs) starts its own
// servers and browser with these.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const web = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const root = resolve(web, '../../..');
export const dist = join(web, 'dist');
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ci = process.env.CI === 'true';
/** skip is the reason to skip the browser tests (no Chromium, outside CI), or false. */
export const skip = !existsSync(chromiumPath) && !ci ? `no Chromium at ${chromiumPath} (apt-get install chromium)` : false;

// Flags for Chromium on a CI machine without a display, GPU or network:
// without the background-networking ones it stalls on refused connections.
// playwright-core adds its own headless flags and a fresh --user-data-dir.
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * checkSetup throws when CI=true and Chromium is missing, or when the UI is
 * not built; it returns a new temporary directory.
 */
export function checkSetup() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`CI=true and there is no Chromium at ${chromiumPath}: .ci/run installs it with apt (apt-get install chromium)`);
  }
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`${dist} has no index.html: build the UI first (npm run build, or bash examples/taskboard/run.sh --test)`);
  }
  return mkdtempSync(join(tmpdir(), 'taskboard-e2e-'));
}

/** serverBinary returns TASKBOARD_BIN, or builds the server into dir. */
export function serverBinary(dir) {
  let bin = process.env.TASKBOARD_BIN;
  if (!bin) {
    bin = join(dir, 'taskboard');
    execFileSync('go', ['build', '-o', bin, './taskboard'], { cwd: join(root, 'examples'), stdio: 'inherit' });
  }
  return bin;
}

/** launchBrowser starts headless Chromium. */
export function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 60_000 });
}

/**
 * startProcess runs bin with args and resolves with { proc, url } once it
 * prints "listening on <url>" (within 30 s). env is added to the
 * environment.
 */
export async function startProcess(bin, args, env = {}) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  proc.stderr.on('data', (b) => (stderr += b));
  const url = await new Promise((resolveURL, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${bin} did not start in 30 s:\n${out}${stderr}`)), 30_000);
    proc.stdout.on('data', (b) => {
      out += b;
      const m = /listening on (http:\/\/\S+?)\/?$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveURL(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited with ${code}:\n${out}${stderr}`));
    });
  });
  proc.removeAllListeners('exit');
  return { proc, url };
}

/** startServer runs the taskboard on a free port with a database in dir and resolves with { proc, url }. */
export function startServer(bin, dir, db = 'taskboard.db', extra = [], env = {}) {
  return startProcess(bin, ['-addr', '127.0.0.1:0', '-db', join(dir, db), '-ui', dist, ...extra], env);
}

/** stop ends the processes (SIGTERM) and waits for them. */
export async function stop(...procs) {
  for (const proc of procs) {
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  }
}
