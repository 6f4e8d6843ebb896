// `mizan-edge dev` as a user runs it: a child process printing one line per
// location, serving on port N+i, exiting 0 on SIGTERM; and refusing to start
// without its secrets.
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifest, startOrigin, type Origin } from './origin.js';

const bin = fileURLToPath(new URL('../bin/mizan-edge.mjs', import.meta.url));
const env = {
  ...process.env,
  MIZAN_MWT_SECRET: 'mwt-secret-32-bytes-long-0000000',
  MIZAN_EDGE_KEY_SECRET: 'key-secret-32-bytes-long-0000000',
  MIZAN_EDGE_PURGE_SECRET: 'purge-secret-32-bytes-long-00000',
};

const free = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** Two consecutive free ports. */
async function freePair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    if ((await free(p)) && (await free(p + 1))) return p;
  }
  throw new Error('no two consecutive free ports');
}

let origin: Origin;
let manifestFile: string;

beforeAll(async () => {
  origin = await startOrigin();
  manifestFile = join(mkdtempSync(join(tmpdir(), 'mizan-edge-')), 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest));
});

afterAll(async () => {
  await origin?.close();
});

describe('mizan-edge dev', () => {
  it('prints one line per location, serves on N+i, exits 0 on SIGTERM', async () => {
    const port = await freePair();
    const child = spawn(
      process.execPath,
      [bin, 'dev', '--origin', origin.url, '--manifest', manifestFile, '--port', String(port), '--locations', '2', '--default-ttl', '5'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready: ${out} ${err}`)), 20_000);
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (out.split('\n').length > 2) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      expect(out).toBe(
        `mizan-edge: location 0 listening on http://127.0.0.1:${port}\n` +
          `mizan-edge: location 1 listening on http://127.0.0.1:${port + 1}\n`,
      );
      for (const p of [port, port + 1]) {
        const a = await fetch(`http://127.0.0.1:${p}/api/mizan/ctx/task/?task_id=99`);
        expect(a.headers.get('x-mizan-edge')).toBe('miss');
        await a.arrayBuffer();
        const b = await fetch(`http://127.0.0.1:${p}/api/mizan/ctx/task/?task_id=99`);
        expect(b.headers.get('x-mizan-edge')).toBe('hit');
        await b.arrayBuffer();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out.split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('refuses to start without its secrets, naming them', async () => {
    const { MIZAN_EDGE_PURGE_SECRET: _p, MIZAN_MWT_SECRET: _m, ...partial } = env;
    const child = spawn(process.execPath, [bin, 'dev', '--origin', origin.url, '--manifest', manifestFile, '--port', '1'], {
      env: partial,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toContain('MIZAN_MWT_SECRET');
    expect(err).toContain('MIZAN_EDGE_PURGE_SECRET');
    expect(err).not.toContain('MIZAN_EDGE_KEY_SECRET');
  });

  it('refuses bad flags', async () => {
    const child = spawn(process.execPath, [bin, 'dev', '--origin', 'ftp://x', '--manifest', manifestFile, '--port', '1'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    expect(await new Promise<number | null>((resolve) => child.on('exit', resolve))).toBe(2);
    expect(err).toContain('--origin');
  });
});
