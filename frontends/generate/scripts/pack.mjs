#!/usr/bin/env node
// Builds the npm packages of the generator: the launcher @mizan/generate
// (this directory) and one platform package per entry of ../platforms.js,
// each holding the mizan command cross-compiled for it.
//
//   node frontends/generate/scripts/pack.mjs [--out DIR] [--platforms KEY,...]
//
// For each platform it writes DIR/platforms/<key>/ (package.json with name,
// version, os, cpu and files, and bin/mizan or bin/mizan.exe, built with
// CGO_ENABLED=0 GOOS GOARCH go build -trimpath -ldflags "-s -X
// main.version=v<version>" ./cmd/mizan), then runs npm pack for it and for
// the launcher into DIR. DIR defaults to frontends/generate/dist. Every
// package gets the launcher's version; the launcher's optionalDependencies
// must name every platform package at exactly that version (checked here).
// --platforms builds only some (the launcher is packed in any case).
//
// The whole mizan command is built, not a generate-only one: the launcher
// runs `mizan generate ARGS...`.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PLATFORMS, packageName } from '../platforms.js';

const here = dirname(fileURLToPath(import.meta.url));
const launcherDir = resolve(here, '..');
const repoRoot = resolve(launcherDir, '../..');

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(launcherDir, 'dist') },
    platforms: { type: 'string', default: Object.keys(PLATFORMS).join(',') },
  },
});
const out = resolve(values.out);
const keys = values.platforms
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const k of keys) {
  if (!Object.hasOwn(PLATFORMS, k)) {
    throw new Error(`pack: unknown platform ${k} (platforms: ${Object.keys(PLATFORMS).join(', ')})`);
  }
}

const launcher = JSON.parse(readFileSync(join(launcherDir, 'package.json'), 'utf8'));
const version = launcher.version;
const want = Object.keys(PLATFORMS).map(packageName).sort();
const have = Object.keys(launcher.optionalDependencies ?? {}).sort();
if (want.join() !== have.join()) {
  throw new Error(`pack: optionalDependencies of ${launcher.name} are ${have.join(', ')}; want ${want.join(', ')}`);
}
for (const name of have) {
  if (launcher.optionalDependencies[name] !== version) {
    throw new Error(
      `pack: ${launcher.name} depends on ${name}@${launcher.optionalDependencies[name]}; want exactly its own version ${version}`,
    );
  }
}

mkdirSync(out, { recursive: true });

/**
 * npm pack dir into out; returns the tarball's file name.
 * @param {string} dir
 * @returns {string}
 */
function npmPack(dir) {
  const json = execFileSync('npm', ['pack', '--json', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(json)[0].filename;
}

/** @param {number} t0 */
const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(1);

for (const key of keys) {
  const p = PLATFORMS[key];
  const name = packageName(key);
  const dir = join(out, 'platforms', key);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  const t0 = performance.now();
  const exe = join(dir, 'bin', p.exe);
  try {
    execFileSync(
      'go',
      ['build', '-trimpath', '-ldflags', `-s -X main.version=v${version}`, '-o', exe, './cmd/mizan'],
      {
        cwd: repoRoot,
        stdio: 'inherit',
        env: { ...process.env, CGO_ENABLED: '0', GOOS: p.goos, GOARCH: p.goarch },
      },
    );
  } catch {
    console.error(`pack: ${key}: go build ./cmd/mizan with GOOS=${p.goos} GOARCH=${p.goarch} failed (its errors are above)`);
    process.exit(1);
  }
  const buildTime = seconds(t0);
  chmodSync(exe, 0o755);
  const manifest = {
    name,
    version,
    description: `The mizan binary of ${launcher.name} for ${key} (${p.goos}/${p.goarch}).`,
    license: launcher.license,
    repository: launcher.repository,
    os: [p.os],
    cpu: [p.cpu],
    files: [`bin/${p.exe}`],
    preferUnplugged: true,
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(dir, 'README.md'),
    `# ${name}\n\nThe prebuilt \`mizan\` command for ${key}, run by [${launcher.name}](https://www.npmjs.com/package/${launcher.name}) (\`mizan-generate\`). Install ${launcher.name}, not this package.\n`,
  );
  const tgz = npmPack(dir);
  console.log(`pack: ${key}: go build ${buildTime}s, ${join(out, tgz)}`);
}

console.log(`pack: launcher: ${join(out, npmPack(launcherDir))}`);
