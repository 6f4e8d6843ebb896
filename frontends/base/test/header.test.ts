import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseInvalidateHeader } from '../src/index.js';

interface Vectors {
  parse: { name: string; header: string; targets: { context: string; params: Record<string, string> }[] }[];
  reject: { name: string; header: string }[];
  format: { name: string; targets: { context: string; params?: Record<string, string> }[]; header: string }[];
}

// The shared vectors of the repository (docs/spec.md §3), not a copy.
const vectors = JSON.parse(
  readFileSync(new URL('../../../testdata/vectors/invalidate-header.json', import.meta.url), 'utf8'),
) as Vectors;

describe('parseInvalidateHeader', () => {
  it('has vectors to run', () => {
    expect(vectors.parse.length).toBeGreaterThanOrEqual(10);
    expect(vectors.reject.length).toBeGreaterThanOrEqual(10);
  });

  it.each(vectors.parse.map((v) => [v.name, v] as const))('parses: %s', (_, v) => {
    expect(parseInvalidateHeader(v.header)).toStrictEqual(v.targets);
  });

  it.each(vectors.reject.map((v) => [v.name, v] as const))('rejects: %s', (_, v) => {
    expect(() => parseInvalidateHeader(v.header)).toThrow(/^mizan: /);
  });

  // Every formatted header parses back to its entries (the formatter's
  // dedupe rules aside, each entry names a target of the input).
  it.each(vectors.format.map((v) => [v.name, v] as const))('parses formatted: %s', (_, v) => {
    const want = v.targets.map((t) => ({ context: t.context, params: t.params ?? {} }));
    for (const got of parseInvalidateHeader(v.header)) expect(want).toContainEqual(got);
  });

  it('rejects a repeated parameter, an empty parameter and a trailing comma', () => {
    expect(() => parseInvalidateHeader('user;a=1;a=2')).toThrow(/repeated/);
    expect(() => parseInvalidateHeader('user;;a=1')).toThrow(/empty parameter/);
    expect(() => parseInvalidateHeader('user,')).toThrow(/entry 2: empty entry/);
    expect(() => parseInvalidateHeader('user;q=a b')).toThrow(/unencoded/);
  });

  it('decodes percent-encoded names and keeps a __proto__ param as data', () => {
    const [t] = parseInvalidateHeader('us%65r;__proto__=1');
    expect(t?.context).toBe('user');
    expect(Object.keys(t?.params ?? {})).toEqual(['__proto__']);
  });
});
