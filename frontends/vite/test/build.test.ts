// vite build of a project whose @mizan/react is a `file:` link (a symlink
// to a package with a node_modules of its own): without the plugin the
// bundle carries two copies of react, with it one, and no setting of the
// user's is needed (no resolve.preserveSymlinks, no dedupe).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { build, type Rollup } from 'vite';
import mizan from '../src/index.js';
import { APP_COPY, LIB_COPY, linkedFixture, type Fixture } from './fixture.js';

let fx: Fixture;
beforeAll(() => {
  fx = linkedFixture();
});
afterAll(() => fx.remove());

/** bundle builds the fixture (nothing written) and returns its JavaScript. */
async function bundle(plugins: ReturnType<typeof mizan>[]): Promise<string> {
  const out = await build({
    root: fx.app,
    configFile: false,
    logLevel: 'silent',
    plugins,
    build: { write: false, minify: false, modulePreload: false },
  });
  const outputs = (Array.isArray(out) ? out : [out]) as Rollup.RollupOutput[];
  return outputs
    .flatMap((o) => o.output)
    .filter((c): c is Rollup.OutputChunk => c.type === 'chunk')
    .map((c) => c.code)
    .join('\n');
}

test('without the plugin the fixture bundles two copies of react (the failure it reproduces)', async () => {
  const js = await bundle([]);
  expect(js).toContain(APP_COPY);
  expect(js).toContain(LIB_COPY);
});

test('with the plugin the linked package gets the app’s react: one copy', async () => {
  const js = await bundle([mizan()]);
  expect(js).toContain(APP_COPY);
  expect(js).not.toContain(LIB_COPY);
});
