// Vitest globalSetup of @mizan/base (vitest.config.ts): builds the Go
// fixture application of docs/spec.md §7 (conformance/fixture), serves it
// on a free loopback port for the whole run and stops it afterwards.
// test/live.test.ts reads its origin with inject('fixtureUrl').
//
// Without a Go toolchain the run fails when CI=true; elsewhere the live
// tests are skipped with the reason in inject('fixtureSkip').
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The fixture's origin, "http://127.0.0.1:PORT"; "" when it is not running. */
    fixtureUrl: string;
    /** Why the fixture is not running ("" when it is). */
    fixtureSkip: string;
    /**
     * The built fixture binary ("" when it is not running), for a test that
     * needs a fixture of its own (fresh state, no other file's changes):
     * start it with startFixture and stop it with stopFixture.
     */
    fixtureBin: string;
  }
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** How long the built fixture may take to print its address. */
const startTimeout = 15_000;
const listening = /^mizan fixture listening on (http:\/\/\S+)$/m;

const inCI = (): boolean => ['true', '1'].includes((process.env.CI ?? '').toLowerCase());

/** findGo returns the go command: on PATH, else in GOROOT or /usr/local/go. */
function findGo(): string | undefined {
  const candidates = ['go'];
  if (process.env.GOROOT) candidates.push(join(process.env.GOROOT, 'bin', 'go'));
  candidates.push('/usr/local/go/bin/go');
  return candidates.find(
    (c) => (c === 'go' || existsSync(c)) && spawnSync(c, ['version'], { stdio: 'ignore' }).status === 0,
  );
}

/** start runs the fixture binary and resolves with its origin once it listens. */
export function startFixture(bin: string): Promise<{ child: ChildProcess; url: string }> {
  return start(bin);
}

/** stopFixture stops a fixture startFixture started. */
export function stopFixture(child: ChildProcess): Promise<void> {
  return stop(child);
}

function start(bin: string): Promise<{ child: ChildProcess; url: string }> {
  // The origin cache and pub/sub stay off whatever the environment says:
  // the tests count requests to the app, not to Redis.
  const env = { ...process.env };
  for (const k of ['MIZAN_CACHE_SECRET', 'MIZAN_CACHE_REDIS_URL', 'MIZAN_PUBSUB_REDIS_URL']) delete env[k];
  const child = spawn(bin, ['-addr', '127.0.0.1:0'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let done = false;
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`fixture: ${why}\nstdout: ${out}\nstderr: ${err}`));
    };
    const timer = setTimeout(() => fail(`no address printed within ${startTimeout} ms`), startTimeout);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      if (err.length < 64_000) err += s;
    });
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = listening.exec(out);
      if (m?.[1] && !done) {
        done = true;
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.once('error', (e) => fail(e.message));
    child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before listening`));
  });
}

/** stop sends SIGTERM (a graceful shutdown), then SIGKILL after 5 s. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const go = findGo();
  if (!go) {
    const why = 'no Go toolchain (go on PATH, $GOROOT/bin/go or /usr/local/go/bin/go)';
    if (inCI()) throw new Error(`live tests: ${why}; CI=true requires them to run`);
    project.provide('fixtureUrl', '');
    project.provide('fixtureSkip', why);
    project.provide('fixtureBin', '');
    return async () => {};
  }
  const dir = mkdtempSync(join(tmpdir(), 'mizan-fixture-'));
  const bin = join(dir, process.platform === 'win32' ? 'fixture.exe' : 'fixture');
  const built = spawnSync(go, ['build', '-o', bin, './conformance/fixture'], { cwd: repoRoot, encoding: 'utf8' });
  if (built.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`live tests: go build ./conformance/fixture failed:\n${built.stderr || built.error?.message}`);
  }
  let server: { child: ChildProcess; url: string };
  try {
    server = await start(bin);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  project.provide('fixtureUrl', server.url);
  project.provide('fixtureSkip', '');
  project.provide('fixtureBin', bin);
  return async () => {
    await stop(server.child);
    rmSync(dir, { recursive: true, force: true });
  };
}
