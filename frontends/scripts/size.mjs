// size.mjs measures each package's entry (all exports), bundled and minified
// with esbuild and gzipped, and fails when one exceeds its limit in
// size-budget.json. `node scripts/size.mjs --write` records the measured
// sizes in that file (limits are edited by hand).
//
// For comparison (no limit, never failing) it measures the same way the
// whole export surface of @tanstack/query-core + @tanstack/react-query and
// of swr, installed as dev dependencies for this purpose only, and prints a
// Markdown table of all rows with the installed versions (the table of
// docs/performance.md, "Client bundle size").
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const root = new URL('../', import.meta.url);
const budgetFile = new URL('size-budget.json', root);
const budget = JSON.parse(readFileSync(budgetFile, 'utf8'));

/** version returns the installed version of a package of the workspace or of node_modules. */
function version(pkg) {
  const local = { '@mizan/base': 'base/', '@mizan/react': 'react/', '@mizan/vue': 'vue/', '@mizan/svelte': 'svelte/', '@mizan/tanstack-query': 'tanstack-query/', '@mizan/htmx': 'htmx/' }[pkg];
  const file = new URL((local ?? `node_modules/${pkg}/`) + 'package.json', root);
  return JSON.parse(readFileSync(file, 'utf8')).version;
}

// The budgeted entries: the Mizan packages from source.
const entries = {
  '@mizan/base': { contents: "export * from './base/src/index.ts';", external: [], packages: ['@mizan/base'] },
  '@mizan/react': {
    contents: "export * from './react/src/index.ts';",
    external: ['react', '@mizan/base'],
    packages: ['@mizan/react'],
  },
  '@mizan/react/forms': {
    contents: "export * from './react/src/form.ts';",
    external: ['react', '@mizan/base'],
    packages: ['@mizan/react'],
  },
  '@mizan/base/ws': { contents: "export * from './base/src/ws.ts';", external: [], packages: ['@mizan/base'] },
  '@mizan/base/auth': { contents: "export * from './base/src/auth.ts';", external: [], packages: ['@mizan/base'] },
  '@mizan/base/forms': { contents: "export * from './base/src/forms.ts';", external: [], packages: ['@mizan/base'] },
  '@mizan/base/postmessage': { contents: "export * from './base/src/postmessage.ts';", external: [], packages: ['@mizan/base'] },
  '@mizan/base/postmessage-host': {
    contents: "export * from './base/src/postmessage-host.ts';",
    external: [],
    packages: ['@mizan/base'],
  },
  '@mizan/base/optimistic': { contents: "export * from './base/src/optimistic.ts';", external: [], packages: ['@mizan/base'] },
  '@mizan/base/offline': { contents: "export * from './base/src/offline.ts';", external: [], packages: ['@mizan/base'] },
  '@mizan/base + @mizan/base/offline': {
    contents: "export * from './base/src/index.ts'; export * from './base/src/offline.ts';",
    external: [],
    packages: ['@mizan/base'],
  },
  '@mizan/base + @mizan/base/optimistic': {
    contents: "export * from './base/src/index.ts'; export * from './base/src/optimistic.ts';",
    external: [],
    packages: ['@mizan/base'],
  },
  '@mizan/base + @mizan/base/optimistic + @mizan/react': {
    contents:
      "export * from './base/src/index.ts'; export * from './base/src/optimistic.ts'; export * from './react/src/index.ts';",
    external: ['react'],
    packages: ['@mizan/base', '@mizan/react'],
  },
  '@mizan/vue': { contents: "export * from './vue/src/index.ts';", external: ['vue', '@mizan/base'], packages: ['@mizan/vue'] },
  '@mizan/tanstack-query': { contents: "export * from './tanstack-query/src/index.ts';", external: ['@mizan/base', '@tanstack/query-core'], packages: ['@mizan/tanstack-query'] },
  '@mizan/htmx': { contents: "export * from './htmx/src/index.ts';", external: [], packages: ['@mizan/htmx'] },
  '@mizan/htmx (install only)': { contents: "export { install } from './htmx/src/index.ts';", external: [], packages: ['@mizan/htmx'] },
  '@mizan/svelte': {
    contents: "export * from './svelte/src/index.ts';",
    external: ['svelte', 'svelte/store', '@mizan/base'],
    packages: ['@mizan/svelte'],
  },
  '@mizan/base + @mizan/base/auth + @mizan/react': {
    contents:
      "export * from './base/src/index.ts'; export * from './base/src/auth.ts'; export * from './react/src/index.ts';",
    external: ['react'],
    packages: ['@mizan/base', '@mizan/react'],
  },
  '@mizan/base + @mizan/base/ws': {
    contents: "export * from './base/src/index.ts'; export * from './base/src/ws.ts';",
    external: [],
    packages: ['@mizan/base'],
  },
  '@mizan/base + @mizan/react': {
    contents: "export * from './base/src/index.ts'; export * from './react/src/index.ts';",
    external: ['react'],
    packages: ['@mizan/base', '@mizan/react'],
  },
};

// The comparison entries: every export of each public entry point, default
// exports included (export * leaves them out), react and react-dom external
// (an external package also covers its subpaths: react/jsx-runtime).
const swrEntries = ['infinite', 'immutable', 'mutation', 'subscription'];
const comparisons = {
  '@tanstack/query-core': {
    contents: "export * from '@tanstack/query-core';",
    external: ['react', 'react-dom'],
    packages: ['@tanstack/query-core'],
  },
  '@tanstack/query-core + @tanstack/react-query': {
    contents: "export * from '@tanstack/query-core'; export * from '@tanstack/react-query';",
    external: ['react', 'react-dom'],
    packages: ['@tanstack/query-core', '@tanstack/react-query'],
  },
  swr: {
    contents: "export * from 'swr'; export { default } from 'swr';",
    external: ['react', 'react-dom'],
    packages: ['swr'],
  },
  [`swr, every entry point (., ${swrEntries.join(', ')})`]: {
    contents:
      "export * from 'swr'; export { default } from 'swr';" +
      swrEntries.map((e, i) => ` export * as e${i} from 'swr/${e}'; export { default as d${i} } from 'swr/${e}';`).join(''),
    external: ['react', 'react-dom'],
    packages: ['swr'],
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

const rows = [];
let failed = false;
const measured = {};
for (const [name, entry] of Object.entries(entries)) {
  const m = await measure(entry);
  measured[name] = m;
  rows.push({ name, entry, m });
  const limit = budget.limits[name];
  const ok = limit !== undefined && m.gzip <= limit;
  if (!ok) failed = true;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${m.minified} B minified, ${m.gzip} B gzip (limit ${limit ?? 'none'} B gzip)`);
}
for (const [name, entry] of Object.entries(comparisons)) {
  rows.push({ name, entry, m: await measure(entry) });
}

const kb = (n) => (n / 1024).toFixed(1);
console.log('\nesbuild --bundle --minify --format=esm --platform=browser --target=es2022, react external; gzip -9\n');
console.log('| bundle (all exports) | version | minified | gzip |');
console.log('|---|---|---:|---:|');
for (const { name, entry, m } of rows) {
  const versions = [...new Set(entry.packages.map(version))].join(', ');
  console.log(`| ${name} | ${versions} | ${m.minified} B | ${m.gzip} B (${kb(m.gzip)} KB) |`);
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
