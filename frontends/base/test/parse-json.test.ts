// parseJSON (src/errors.ts): JSON.parse that refuses an integer a number
// cannot hold exactly instead of rounding it (docs/spec.md §13.3).
import { describe, expect, it } from 'vitest';
import { MizanError } from '../src/index.js';
import { parseJSON } from '../src/errors.js';
import { readInitialData } from '../src/hydrate.js';

describe('parseJSON', () => {
  it('parses what a number holds exactly', () => {
    for (const text of [
      '{"a":9007199254740991,"b":-9007199254740991}',
      '{"big_id":"9007199254740993","s":"x\\"12345678901234567890"}',
      '[1152921504606847000, 1e400, 12345678901234567.5, 1.2345678901234567e30, 10000000000000000]',
      '{"f":12345678901234567000}',
    ]) {
      expect(parseJSON(text)).toStrictEqual(JSON.parse(text));
    }
  });
  it('refuses an integer it would round', () => {
    for (const [text, n] of [
      ['{"id":9007199254740993}', '9007199254740993'],
      ['[1,{"x":[-9007199254740993]}]', '-9007199254740993'],
      ['{"s":"9007199254740993","n":18446744073709551615}', '18446744073709551615'],
      // 2^60 is a number, but one JavaScript writes back as 1152921504606847000.
      ['[1152921504606846976]', '1152921504606846976'],
    ] as const) {
      let err: unknown;
      try {
        parseJSON(text, 200);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MizanError);
      expect(err).toMatchObject({ code: 'bad_response', status: 200, message: `unsafe integer ${n}` });
    }
  });
  it('guards hydration data too', () => {
    (globalThis as { document?: unknown }).document = {
      getElementById: () => ({ textContent: '{"k":{"f":{"id":9007199254740993}}}' }),
    };
    try {
      expect(() => readInitialData()).toThrow('unsafe integer 9007199254740993');
    } finally {
      delete (globalThis as { document?: unknown }).document;
    }
  });
});
