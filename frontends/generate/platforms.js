// The platforms @mizan/generate has a prebuilt binary for. Each has a
// package of its own, @mizan/generate-<key>, where <key> is Node's
// `${process.platform}-${process.arch}`; the launcher (bin/mizan-generate.js)
// and the pack script (scripts/pack.mjs) both read this table.

/** The npm scope and name prefix of the platform packages. */
export const PACKAGE_PREFIX = '@mizan/generate-';

/**
 * One platform: Node's platform/arch (the package's `os`/`cpu`), Go's
 * GOOS/GOARCH (how the pack script builds it) and the binary's file name
 * inside the package's bin/ directory.
 * @typedef {{ os: string, cpu: string, goos: string, goarch: string, exe: string }} Platform
 */

/** @type {Readonly<Record<string, Platform>>} */
export const PLATFORMS = Object.freeze({
  'linux-x64': { os: 'linux', cpu: 'x64', goos: 'linux', goarch: 'amd64', exe: 'mizan' },
  'linux-arm64': { os: 'linux', cpu: 'arm64', goos: 'linux', goarch: 'arm64', exe: 'mizan' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64', goos: 'darwin', goarch: 'arm64', exe: 'mizan' },
  'darwin-x64': { os: 'darwin', cpu: 'x64', goos: 'darwin', goarch: 'amd64', exe: 'mizan' },
  'win32-x64': { os: 'win32', cpu: 'x64', goos: 'windows', goarch: 'amd64', exe: 'mizan.exe' },
});

/**
 * The name of the platform package of key, e.g. @mizan/generate-linux-x64.
 * @param {string} key
 * @returns {string}
 */
export function packageName(key) {
  return PACKAGE_PREFIX + key;
}
