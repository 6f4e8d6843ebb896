import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  MizanClient,
  instanceKey,
  matchTarget,
  toTarget,
  type Refetch,
  type TargetInput,
} from '../src/index.js';
import { FakeTransport } from './fake.js';

interface Case {
  name: string;
  target: TargetInput;
  instance: { context: string; params: Record<string, string> };
  matches: boolean;
  /** "instance" or "function:<name>", present when matches. */
  refetch?: string;
}

interface Vectors {
  about: string;
  cases: Case[];
}

// The shared vectors of the repository (docs/spec.md §3, "Matching"), not a copy.
const vectors = JSON.parse(
  readFileSync(new URL('../../../testdata/vectors/target-match.json', import.meta.url), 'utf8'),
) as Vectors;

/** wire writes a Refetch the way the vectors do: "instance" or "function:<name>". */
const wire = (r: Refetch): string => (r.refetch === 'instance' ? 'instance' : 'function:' + r.function);

const cases = vectors.cases.map((c) => [c.name, c] as const);

describe('target-match vectors', () => {
  it('has cases to run, matching and not, of every refetch kind', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(20);
    expect(vectors.cases.some((c) => !c.matches)).toBe(true);
    expect(vectors.cases.some((c) => c.refetch === 'instance')).toBe(true);
    expect(vectors.cases.some((c) => c.refetch?.startsWith('function:'))).toBe(true);
  });

  it.each(cases)('matchTarget: %s', (_, c) => {
    const got = matchTarget(toTarget(c.target), c.instance);
    if (!c.matches) {
      expect(got).toBeNull();
      return;
    }
    expect(c.refetch).toMatch(/^(instance|function:.+)$/); // a matching case says what to refetch
    expect(got).not.toBeNull();
    expect(wire(got!)).toBe(c.refetch);
  });

  // The client kernel applies targets through the same rule: the instance
  // is hit (marked stale) iff the vector matches, whatever the refetch kind
  // (a function-level hit refreshes the instance: contexts are read whole).
  it.each(cases)('MizanClient.invalidate: %s', (_, c) => {
    const transport = new FakeTransport();
    const key = instanceKey(c.instance.context, c.instance.params);
    const client = new MizanClient({ transport, initialData: { [key]: {} }, retry: { attempts: 0 } });
    const inst = client.instance(c.instance.context, c.instance.params);
    expect(inst.getSnapshot()).toMatchObject({ status: 'success', stale: false });
    client.invalidate([c.target]);
    expect(inst.getSnapshot().stale).toBe(c.matches);
    expect(transport.count()).toBe(0); // unwatched: marked stale, refetched when next subscribed
  });
});

describe('matchTarget', () => {
  it('names the function of a function-level target, and only then', () => {
    const inst = { context: 'user', params: { user_id: '5' } };
    expect(matchTarget(toTarget({ context: 'user', function: 'user_profile' }), inst)).toStrictEqual({
      refetch: 'function',
      function: 'user_profile',
    });
    expect(matchTarget(toTarget({ context: 'user', params: { user_id: 5 } }), inst)).toStrictEqual({
      refetch: 'instance',
    });
  });

  it('reads only own params: an instance without a "__proto__" param omits it', () => {
    const params = Object.fromEntries([
      ['__proto__', 'x'],
      ['user_id', 5],
    ]) as Record<string, string | number>;
    const t = toTarget({ context: 'user', params });
    expect(Object.keys(t.params)).toEqual(['__proto__', 'user_id']);
    expect(matchTarget(t, { context: 'user', params: { user_id: '5' } })).not.toBeNull();
    expect(matchTarget(t, { context: 'user', params: Object.fromEntries([['__proto__', 'y']]) })).toBeNull();
  });
});
