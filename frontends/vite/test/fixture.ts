// A Vite project in a temporary directory that reproduces the two-Reacts
// failure of a `file:` link: node_modules/@mizan/react is a symlink to a
// package directory outside the project that has a node_modules (and a
// "react") of its own, as `file:../mizan/frontends/react` gives. The two
// "react" packages are stand-ins that export which copy they are, so a
// test can see which one each module got.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Fixture {
  /** The project: index.html, main.js, node_modules/react (the app's copy), node_modules/@mizan/react (the link). */
  app: string;
  /** The linked package, with lib/node_modules/react (the second copy). */
  lib: string;
  remove(): void;
}

/** The string each copy of the stand-in react exports as `who`. */
export const APP_COPY = 'react-of-the-app';
export const LIB_COPY = 'react-of-the-linked-package';

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function fakeReact(dir: string, who: string): void {
  write(join(dir, 'package.json'), JSON.stringify({ name: 'react', version: '19.0.0', type: 'module', exports: './index.js' }));
  write(join(dir, 'index.js'), `export const who = ${JSON.stringify(who)};\n`);
}

export function linkedFixture(): Fixture {
  const base = mkdtempSync(join(tmpdir(), 'mizan-vite-fixture-'));
  const app = join(base, 'app');
  const lib = join(base, 'mizan-react');
  write(
    join(app, 'index.html'),
    '<!doctype html><html><body><div id="out"></div><script type="module" src="/main.js"></script></body></html>\n',
  );
  write(
    join(app, 'main.js'),
    [
      "import { who } from 'react';",
      "import { libWho } from '@mizan/react';",
      "document.getElementById('out').textContent = `app: ${who}, linked package: ${libWho}`;",
      '',
    ].join('\n'),
  );
  fakeReact(join(app, 'node_modules', 'react'), APP_COPY);
  write(join(lib, 'package.json'), JSON.stringify({ name: '@mizan/react', version: '0.1.0', type: 'module', exports: './index.js' }));
  write(join(lib, 'index.js'), "import { who } from 'react';\nexport const libWho = who;\n");
  fakeReact(join(lib, 'node_modules', 'react'), LIB_COPY);
  mkdirSync(join(app, 'node_modules', '@mizan'), { recursive: true });
  symlinkSync(lib, join(app, 'node_modules', '@mizan', 'react'), 'dir');
  return { app, lib, remove: () => rmSync(base, { recursive: true, force: true }) };
}
