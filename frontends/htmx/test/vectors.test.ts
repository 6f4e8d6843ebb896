// Every vector of testdata/vectors/target-match.json, run through the
// extension's element matching: an element declaring the vector's instance
// is refreshed iff the target applies, and a function-level target refreshes
// the elements that list its function in mizan-fn or have no mizan-fn.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { instanceOf, matching, refresh } from '../src/index.js';
import type { TargetInput } from '../src/index.js';

interface Vector {
  name: string;
  target: TargetInput;
  instance: { context: string; params: Record<string, string> };
  matches: boolean;
  refetch?: string;
}

const vectors = (
  JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../../testdata/vectors/target-match.json'), 'utf8')) as {
    cases: Vector[];
  }
).cases;

/** element appends an element declaring context and params (as JSON) to the body. */
function element(context: string, params: Record<string, unknown>, fn?: string): HTMLElement {
  const el = document.createElement('div');
  el.setAttribute('mizan-context', context);
  el.setAttribute('mizan-params', JSON.stringify(params));
  if (fn !== undefined) el.setAttribute('mizan-fn', fn);
  document.body.append(el);
  return el;
}

afterEach(() => {
  document.body.innerHTML = '';
});

test('the vectors file has cases of every kind', () => {
  expect(vectors.length).toBeGreaterThanOrEqual(20);
  expect(vectors.some((v) => v.refetch?.startsWith('function:'))).toBe(true);
  expect(vectors.some((v) => !v.matches)).toBe(true);
});

describe('target-match.json', () => {
  for (const v of vectors) {
    test(v.name, () => {
      const plain = element(v.instance.context, v.instance.params);
      expect(instanceOf(plain)).toEqual(v.instance);
      if (!v.matches) {
        expect(matching([v.target])).toEqual([]);
        return;
      }
      if (v.refetch === 'instance') {
        // Whatever functions an element lists, a whole-instance target refreshes it.
        const listed = element(v.instance.context, v.instance.params, 'some_function');
        expect(matching([v.target])).toEqual([plain, listed]);
        return;
      }
      const fn = v.refetch?.replace(/^function:/, '') ?? '';
      expect(fn).not.toBe('');
      const listing = element(v.instance.context, v.instance.params, `other_function, ${fn}`);
      const other = element(v.instance.context, v.instance.params, 'other_function');
      expect(matching([v.target])).toEqual([plain, listing]);
      expect(matching([v.target])).not.toContain(other);
    });
  }
});

describe('elements', () => {
  test('mizan-params values are stringified as the protocol does, null dropped', () => {
    const el = element('orders', { user_id: 1, unread: true, q: 'x y', gone: null, neg: -3 });
    expect(instanceOf(el)).toEqual({ context: 'orders', params: { user_id: '1', unread: 'true', q: 'x y', neg: '-3' } });
    expect(matching([{ context: 'orders', params: { user_id: 1, unread: true } }])).toEqual([el]);
    expect(matching([{ context: 'orders', params: { unread: false } }])).toEqual([]);
    expect(matching([{ context: 'orders', params: { gone: 'x' } }])).toEqual([el]);
  });

  test('a "__proto__" param is data like any other', () => {
    const el = document.createElement('p');
    el.setAttribute('mizan-context', 'board');
    el.setAttribute('mizan-params', '{"__proto__":5}');
    document.body.append(el);
    expect(Object.hasOwn(instanceOf(el)?.params ?? {}, '__proto__')).toBe(true);
    expect(matching([{ context: 'board', params: JSON.parse('{"__proto__":6}') }])).toEqual([]);
    expect(matching([{ context: 'board', params: JSON.parse('{"__proto__":5}') }])).toEqual([el]);
  });

  test('an element without mizan-params shows the instance without params: every target of its context', () => {
    const el = document.createElement('p');
    el.setAttribute('mizan-context', 'board');
    document.body.append(el);
    expect(instanceOf(el)).toEqual({ context: 'board', params: {} });
    expect(matching([{ context: 'board', params: { board_id: 1 } }])).toEqual([el]);
    expect(matching(['user'])).toEqual([]);
  });

  test('an empty mizan-context declares nothing and does not stop the others (regression: it threw and nothing refreshed)', () => {
    const empty = document.createElement('p');
    empty.setAttribute('mizan-context', '');
    document.body.append(empty);
    const el = element('board', { board_id: 1 });
    expect(instanceOf(empty)).toBeNull();
    expect(matching([{ context: 'board', params: { board_id: 1 } }])).toEqual([el]);
  });

  test('an empty mizan-fn lists nothing: a function-level target matches as without it (regression: it matched none)', () => {
    const el = element('user', { user_id: 1 });
    el.setAttribute('mizan-fn', '');
    expect(matching([{ context: 'user', params: { user_id: 1 }, function: 'user_profile' }])).toEqual([el]);
    el.setAttribute('mizan-fn', ' , ');
    expect(matching([{ context: 'user', params: { user_id: 1 }, function: 'user_profile' }])).toEqual([el]);
    el.setAttribute('mizan-fn', 'user_orders');
    expect(matching([{ context: 'user', params: { user_id: 1 }, function: 'user_profile' }])).toEqual([]);
  });

  test('mizan-params that is not a JSON object counts as no params (refreshed, never stale)', () => {
    for (const bad of ['{board_id:1}', '[1]', '5', 'null', '"x"']) {
      document.body.innerHTML = '';
      const el = document.createElement('p');
      el.setAttribute('mizan-context', 'board');
      el.setAttribute('mizan-params', bad);
      document.body.append(el);
      expect(instanceOf(el), bad).toEqual({ context: 'board', params: {} });
      expect(matching([{ context: 'board', params: { board_id: 2 } }]), bad).toEqual([el]);
    }
  });

  test('an element without mizan-context is never matched; instanceOf is null', () => {
    const el = document.createElement('p');
    el.setAttribute('mizan-params', '{}');
    document.body.append(el);
    expect(instanceOf(el)).toBeNull();
    expect(matching(['board'])).toEqual([]);
  });

  test('several targets: an element that two of them hit is returned once, in document order', () => {
    const a = element('board', { board_id: 1 });
    const b = element('board', { board_id: 2 });
    element('user', {});
    const c = element('summary', {});
    expect(matching(['summary', { context: 'board', params: { board_id: 1 } }, 'board'])).toEqual([a, b, c]);
  });

  test('an element inside another matching one is left out; a non-matching outer one leaves it in', () => {
    const outer = element('board', { board_id: 1 });
    const inner = document.createElement('span');
    inner.setAttribute('mizan-context', 'board');
    inner.setAttribute('mizan-params', '{"board_id":1}');
    inner.setAttribute('mizan-fn', 'board_info');
    outer.append(inner);
    expect(matching(['board'])).toEqual([outer]);
    outer.setAttribute('mizan-fn', 'board_tasks');
    expect(matching([{ context: 'board', function: 'board_info' }])).toEqual([inner]);
  });

  test('matching looks under root only', () => {
    const inside = document.createElement('section');
    document.body.append(inside);
    element('board', {});
    const el = document.createElement('div');
    el.setAttribute('mizan-context', 'board');
    inside.append(el);
    expect(matching(['board'], inside)).toEqual([el]);
  });

  test('refresh dispatches a non-bubbling mizan:refresh with the targets on each match', () => {
    const a = element('board', { board_id: 1 });
    const b = element('board', { board_id: 2 });
    const seen: [EventTarget | null, unknown][] = [];
    let bubbled = 0;
    document.body.addEventListener('mizan:refresh', () => bubbled++);
    for (const el of [a, b]) el.addEventListener('mizan:refresh', (e) => seen.push([e.target, (e as CustomEvent).detail]));
    const targets = [{ context: 'board', params: { board_id: 2 } }];
    expect(refresh(targets)).toEqual([b]);
    expect(seen).toEqual([[b, { targets }]]);
    expect(bubbled).toBe(0);
  });
});

describe('arbitrary attributes', () => {
  // A fixed-seed generator of attribute values: JSON objects with values of
  // every JSON type, JSON of other shapes, and broken JSON.
  let seed = 19;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const pieces = ['{', '}', '[', ']', '"board_id"', ':', ',', '1', '-3', 'true', 'null', '"x"', '"__proto__"', '{}', ' ', '1e3', '"é;,="'];
  const junk = () => Array.from({ length: rand(12) }, () => pieces[rand(pieces.length)]).join('');
  const value = (): unknown => [1, -3, 2.5, true, false, null, 'x', '', 'café', [1], { a: 1 }][rand(11)];
  const object = () => Object.fromEntries(Array.from({ length: rand(4) }, () => [['board_id', 'q', '__proto__', 'k'][rand(4)], value()]));

  test('instanceOf never throws, and gives string params only; matching agrees with it', () => {
    for (let i = 0; i < 2000; i++) {
      document.body.innerHTML = '';
      const el = document.createElement('div');
      el.setAttribute('mizan-context', 'c');
      const attr = rand(2) ? JSON.stringify(object()) : junk();
      el.setAttribute('mizan-params', attr);
      document.body.append(el);
      const inst = instanceOf(el);
      expect(inst?.context).toBe('c');
      for (const v of Object.values(inst?.params ?? {})) expect(typeof v).toBe('string');
      const t = { context: 'c', params: { board_id: 1 } };
      const agrees = !Object.hasOwn(inst?.params ?? {}, 'board_id') || inst?.params.board_id === '1';
      expect(matching([t]).length, attr).toBe(agrees ? 1 : 0);
    }
  });
});
