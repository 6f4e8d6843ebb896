// The published shape of the three packages a Mizan front end installs,
// @mizan/base, @mizan/react and @mizan/vite: what `npm pack` puts in their
// tarballs, and that a project outside this repository installs those
// tarballs (npm install ./mizan-base-0.1.0.tgz …, the way `mizan init`
// does), imports every entry point in Node and type-checks against them,
// with a single copy of the kernel. The registry packages beside them
// (react, vite, …) are the versions frontends/ has installed, taken from
// npm's cache where it has them (--prefer-offline), else from the registry.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const frontends = resolve(import.meta.dirname, '../..');
const packages = { '@mizan/base': 'base', '@mizan/react': 'react', '@mizan/vite': 'vite' } as const;
type Name = keyof typeof packages;

interface PackFile {
  path: string;
}
interface PackResult {
  name: Name;
  version: string;
  filename: string;
  files: PackFile[];
}
interface Manifest {
  name: string;
  version: string;
  type?: string;
  main?: string;
  types?: string;
  files?: string[];
  exports?: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  private?: boolean;
}

const manifest = (name: Name): Manifest =>
  JSON.parse(readFileSync(join(frontends, packages[name], 'package.json'), 'utf8')) as Manifest;
const rootManifest = JSON.parse(readFileSync(join(frontends, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};
/** installed returns the version of a package in frontends/node_modules. */
const installed = (pkg: string): string =>
  (JSON.parse(readFileSync(join(frontends, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

/** run runs a command and returns its output; a failure's error carries what it printed. */
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}
const npm = (args: string[], cwd: string): string => run('npm', args, cwd);

let tmp: string;
let packed: PackResult[];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mizan-packages-'));
  // --ignore-scripts: npm test has just built dist/ (prepack would build it again).
  const out = npm(
    ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp, ...Object.keys(packages).flatMap((n) => ['-w', n])],
    frontends,
  );
  packed = JSON.parse(out) as PackResult[];
}, 120_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe.each(Object.keys(packages) as Name[])('%s', (name) => {
  const pkg = manifest(name);
  const tarball = () => packed.find((p) => p.name === name);

  test('is publishable: versioned, ESM, not private, with files and types', () => {
    expect(pkg.private).toBeUndefined();
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(pkg.type).toBe('module');
    expect(pkg.files).toEqual(['dist']);
    expect(pkg.types).toBe('./dist/index.d.ts');
    expect(pkg.main).toBe('./dist/index.js');
  });

  test('every export condition lists types first, and every file it names is in the tarball', () => {
    const files = new Set(tarball()?.files.map((f) => f.path));
    expect(files.size).toBeGreaterThan(0);
    for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
      if (typeof target === 'string') {
        expect(files, `${name} exports ${sub}`).toContain(target.replace(/^\.\//, ''));
        continue;
      }
      expect(Object.keys(target)[0], `${name} exports ${sub}: the types condition must come first`).toBe('types');
      for (const file of Object.values(target)) expect(files, `${name} exports ${sub}`).toContain(file.replace(/^\.\//, ''));
    }
  });

  test('the tarball holds dist/ and package.json only: no sources, tests or configs', () => {
    for (const f of tarball()?.files ?? []) expect(f.path).toMatch(/^(dist\/.+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$/);
  });
});

test('@mizan/react: react 19 and the kernel are peers (one copy each on the page)', () => {
  const pkg = manifest('@mizan/react');
  expect(pkg.dependencies).toBeUndefined();
  expect(pkg.peerDependencies).toEqual({ '@mizan/base': `^${manifest('@mizan/base').version}`, react: '^19.0.0' });
});

test('@mizan/vite: vite is a peer; @mizan/base has no dependencies at all', () => {
  expect(manifest('@mizan/vite').dependencies).toBeUndefined();
  expect(Object.keys(manifest('@mizan/vite').peerDependencies ?? {})).toEqual(['vite']);
  expect(manifest('@mizan/base').dependencies).toBeUndefined();
  expect(manifest('@mizan/base').peerDependencies).toBeUndefined();
});

describe('a project outside the repository installs the tarballs', () => {
  let app: string;
  beforeAll(() => {
    app = join(tmp, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'outside', private: true, type: 'module' }));
    const tgz = (n: Name) => `../${packed.find((p) => p.name === n)?.filename}`;
    npm(
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        tgz('@mizan/base'),
        tgz('@mizan/react'),
        tgz('@mizan/vite'),
        `react@${installed('react')}`,
        `react-dom@${installed('react-dom')}`,
        `vite@${installed('vite')}`,
        `@types/react@${installed('@types/react')}`,
      ],
      app,
    );
  }, 120_000);

  test('with one copy of the kernel', () => {
    expect(existsSync(join(app, 'node_modules/@mizan/base/dist/index.js'))).toBe(true);
    expect(existsSync(join(app, 'node_modules/@mizan/react/node_modules'))).toBe(false);
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages).filter((p) => p.endsWith('node_modules/@mizan/base'))).toEqual([
      'node_modules/@mizan/base',
    ]);
  });

  test('every entry point imports in Node', () => {
    const script = [
      "import * as base from '@mizan/base';",
      "import * as ws from '@mizan/base/ws';",
      "import * as react from '@mizan/react';",
      "import mizan, { mizanConfig } from '@mizan/vite';",
      'console.log(JSON.stringify({',
      '  base: typeof base.MizanClient, ws: typeof ws.wsTransport, react: typeof react.MizanProvider,',
      "  vite: mizan().name, dedupe: mizanConfig({}, { command: 'build' }).resolve.dedupe,",
      '}));',
    ].join('\n');
    const out = run('node', ['--input-type=module', '-e', script], app);
    expect(JSON.parse(out)).toEqual({
      base: 'function',
      ws: 'function',
      react: 'function',
      vite: 'mizan',
      dedupe: ['react', 'react-dom', '@mizan/base', '@mizan/react'],
    });
  });

  test('the types resolve under Bundler and NodeNext resolution (tsc --strict)', () => {
    writeFileSync(
      join(app, 'check.ts'),
      [
        "import { MizanClient, type Params } from '@mizan/base';",
        "import { wsTransport } from '@mizan/base/ws';",
        "import { MizanProvider, useContextQuery } from '@mizan/react';",
        "import mizan from '@mizan/vite';",
        'const params: Params = { board_id: 1 };',
        'export const client: MizanClient = new MizanClient();',
        'export const t = wsTransport;',
        'export const p = MizanProvider;',
        "export const use = () => useContextQuery<{ n: number }>('board', params);",
        "export const plugin: { name: string } = mizan({ target: 'http://127.0.0.1:8080' });",
        '',
      ].join('\n'),
    );
    const tsc = join(frontends, 'node_modules/typescript/bin/tsc');
    for (const [module, moduleResolution] of [
      ['ESNext', 'Bundler'],
      ['NodeNext', 'NodeNext'],
    ] as const) {
      run(
        'node',
        [
          tsc,
          '--noEmit',
          '--strict',
          // As a Vite project has it: vite's own declarations need
          // @types/node and ESNext libs that a browser project leaves out.
          '--skipLibCheck',
          '--module',
          module,
          '--moduleResolution',
          moduleResolution,
          '--target',
          'ES2022',
          '--lib',
          'ES2022,DOM',
          '--types',
          'react',
          'check.ts',
        ],
        app,
      );
    }
  });
});

test('the dev dependencies the tarball install takes from the cache are the workspace’s own', () => {
  for (const p of ['react', 'react-dom', 'vite', '@types/react']) expect(rootManifest.devDependencies[p]).toBeDefined();
});
