#!/usr/bin/env node
// mizan-generate: `mizan generate` without a Go toolchain.
//
//   mizan-generate --ir app.ir.kdl --target react=src/api
//
// The flags are those of `mizan generate` (--ir, --cmd, --timeout, --target,
// --out, --package, --force; `mizan-generate -h` lists them): this launcher
// finds the prebuilt mizan binary in the platform package npm installed as
// an optional dependency (@mizan/generate-linux-x64 and so on), runs
// `mizan generate ARGS...` with the same standard input, output and error,
// and exits with its exit code. Nothing runs at install time: the binary is
// looked up here, on each run.
//
// MIZAN_GENERATE_PLATFORM=<platform>-<arch> replaces Node's
// `${process.platform}-${process.arch}` in that lookup (for tests, and to
// see the error an unsupported platform gives).

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PLATFORMS, packageName } from '../platforms.js';

const PROG = 'mizan-generate';

/** Exit code of a launcher failure (no binary); `mizan generate` uses 1 for "ran and failed" too. */
const EXIT_FAIL = 1;

/**
 * @param {string} msg
 * @returns {never}
 */
function fail(msg) {
  process.stderr.write(`${PROG}: ${msg}\n`);
  process.exit(EXIT_FAIL);
}

/**
 * The path of the mizan binary for platform key, from its platform package.
 * @param {string} key
 * @returns {string}
 */
function findBinary(key) {
  const pkg = packageName(key);
  const platform = Object.hasOwn(PLATFORMS, key) ? PLATFORMS[key] : undefined;
  const supported = Object.keys(PLATFORMS).join(', ');
  if (platform === undefined) {
    fail(
      `no prebuilt binary for platform ${key}: there is no package ${pkg} ` +
        `(platforms with one: ${supported}). Without one, run the generator with Go: ` +
        `go run github.com/mizan-afi/mizan/cmd/mizan generate ...`,
    );
  }
  const require = createRequire(import.meta.url);
  let manifest;
  try {
    manifest = require.resolve(`${pkg}/package.json`);
  } catch {
    fail(
      `the package ${pkg} is not installed: it holds the mizan binary for ${key}. ` +
        `npm installs it with @mizan/generate as an optional dependency; reinstall ` +
        `without --omit=optional (or --no-optional), or add ${pkg} to your dependencies.`,
    );
  }
  const bin = join(dirname(manifest), 'bin', platform.exe);
  try {
    accessSync(bin, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    fail(
      code === 'ENOENT'
        ? `the package ${pkg} (${dirname(manifest)}) has no bin/${platform.exe}; reinstall it`
        : `cannot run ${bin} from ${pkg}: ${code ?? err}`,
    );
  }
  return bin;
}

/** Signals passed on to the binary while it runs. */
const FORWARDED = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP']);

function main() {
  const key = process.env.MIZAN_GENERATE_PLATFORM || `${process.platform}-${process.arch}`;
  const bin = findBinary(key);
  const child = spawn(bin, ['generate', ...process.argv.slice(2)], { stdio: 'inherit' });
  /** @type {Array<[NodeJS.Signals, () => void]>} */
  const handlers = FORWARDED.map((sig) => [sig, () => child.kill(sig)]);
  for (const [sig, h] of handlers) process.on(sig, h);
  child.on('error', (err) => fail(`running ${bin}: ${err.message}`));
  child.on('exit', (code, signal) => {
    for (const [sig, h] of handlers) process.off(sig, h);
    if (signal !== null) {
      // Die of the same signal, so that our parent sees what the binary saw.
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? EXIT_FAIL);
  });
}

main();
