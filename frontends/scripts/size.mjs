// size.mjs measures each package's entry (all exports), bundled and minified
// with esbuild and gzipped, and fails when one exceeds its limit in
// size-budget.json. `node scripts/size.mjs --write` records the measured
// sizes in that file (limits are edited by hand).
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const root = new URL('../', import.meta.url);
const budgetFile = new URL('size-budget.json', root);
const budget = JSON.parse(readFileSync(budgetFile, 'utf8'));

const entries = {
  '@mizan/base': { contents: "export * from './base/src/index.ts';", external: [] },
  '@mizan/react': { contents: "export * from './react/src/index.ts';", external: ['react', '@mizan/base'] },
  '@mizan/base + @mizan/react': {
    contents: "export * from './base/src/index.ts'; export * from './react/src/index.ts';",
    external: ['react'],
  },
};

async function measure({ contents, external }) {
  const out = await build({
    stdin: { contents, resolveDir: root.pathname, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external,
    alias: external.includes('@mizan/base') ? {} : { '@mizan/base': './base/src/index.ts' },
    write: false,
    logLevel: 'error',
  });
  const code = out.outputFiles[0].contents;
  return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

let failed = false;
const measured = {};
for (const [name, entry] of Object.entries(entries)) {
  const m = await measure(entry);
  measured[name] = m;
  const limit = budget.limits[name];
  const ok = limit !== undefined && m.gzip <= limit;
  if (!ok) failed = true;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${m.minified} B minified, ${m.gzip} B gzip (limit ${limit ?? 'none'} B gzip)`);
}

if (process.argv.includes('--write')) {
  budget.measured = measured;
  writeFileSync(budgetFile, JSON.stringify(budget, null, 2) + '\n');
  console.log('recorded in size-budget.json');
}
if (failed) {
  console.error('size: over budget (size-budget.json)');
  process.exit(1);
}
