#!/usr/bin/env node
// mizan-edge dev: run the Mizan edge locally in workerd (through Miniflare),
// in front of an origin, with K simulated locations. See lib/dev.mjs for the
// topology.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { secretsFromEnv, startEdge } from '../lib/dev.mjs';

const usage = `usage: mizan-edge dev --origin URL --manifest FILE --port N [--host 127.0.0.1] [--locations K] [--default-ttl S]

Runs the edge Worker in workerd: location i (0 <= i < K, default K = 1) listens
on port N+i with a cache of its own; all locations share one Durable Object
namespace (the freshness objects). Secrets come from the environment:
MIZAN_MWT_SECRET, MIZAN_EDGE_KEY_SECRET, MIZAN_EDGE_PURGE_SECRET.`;

/**
 * @param {string} msg
 * @returns {never}
 */
function fail(msg) {
  process.stderr.write(`mizan-edge: ${msg}\n\n${usage}\n`);
  process.exit(2);
}

/**
 * @param {string | undefined} v
 * @param {string} name
 * @param {number} min
 */
function int(v, name, min) {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) fail(`--${name} must be an integer >= ${min}`);
  return Number(v);
}

/** @param {string[]} args */
function parseFlags(args) {
  try {
    return parseArgs({
      args,
      options: {
        origin: { type: 'string' },
        manifest: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        locations: { type: 'string' },
        'default-ttl': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    return fail(/** @type {Error} */ (e).message);
  }
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage + '\n');
    return;
  }
  if (cmd !== 'dev') fail(cmd ? `unknown command ${JSON.stringify(cmd)}` : 'no command');
  const values = parseFlags(rest);
  if (!values.origin) fail('--origin is required');
  if (!values.manifest) fail('--manifest is required');
  if (values.port === undefined) fail('--port is required');
  const origin = /** @type {string} */ (values.origin);
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    fail(`--origin ${JSON.stringify(origin)} is not an http(s) URL`);
  }
  const port = /** @type {number} */ (int(values.port, 'port', 1));
  const locations = int(values.locations, 'locations', 1) ?? 1;
  if (port + locations - 1 > 65535) fail('--port + --locations - 1 must be a port (<= 65535)');
  const defaultTtl = int(values['default-ttl'], 'default-ttl', 1);
  const host = values.host ?? '127.0.0.1';

  let manifest;
  try {
    manifest = readFileSync(/** @type {string} */ (values.manifest), 'utf8');
    JSON.parse(manifest);
  } catch (e) {
    fail(`cannot read the manifest ${JSON.stringify(values.manifest)}: ${/** @type {Error} */ (e).message}`);
    return;
  }
  let secrets;
  try {
    secrets = secretsFromEnv();
  } catch (e) {
    process.stderr.write(/** @type {Error} */ (e).message + '\n');
    process.exit(2);
  }

  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const edge = await startEdge({ origin, manifest, secrets, locations, host, port, defaultTtl });
  // Miniflare's exit hook answers SIGINT and SIGTERM with exit codes 130 and
  // 143 after killing workerd: replace it by a graceful dispose and exit 0
  // (its "exit" hook stays, and still kills workerd should we die otherwise).
  for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
    for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.removeListener(sig, l);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    edge.dispose().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`mizan-edge: stopping: ${String(e)}\n`);
        process.exit(0);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  for (const [i, u] of edge.urls.entries()) {
    process.stdout.write(`mizan-edge: location ${i} listening on http://${shownHost}:${u.port}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`mizan-edge: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
