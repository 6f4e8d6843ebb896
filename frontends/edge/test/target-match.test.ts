import { toTarget, type TargetInput } from '@mizan/base';
import { describe, expect, it } from 'vitest';
import { appliesTo, FreshnessLog } from '../src/freshness.js';
import { parseBodyTarget, planPurge } from '../src/purge.js';
import { readJSON } from './helpers.js';

interface MatchCase {
  name: string;
  target: TargetInput;
  instance: { context: string; params: Record<string, string> };
  matches: boolean;
}

const vectors = readJSON<{ cases: MatchCase[] }>('testdata/vectors/target-match.json');

// Each vector goes through what the edge does with a purge post's target
// (parseBodyTarget, planPurge) and what the freshness object does with it
// (appliesTo inside FreshnessLog.check).
describe('target matching (testdata/vectors/target-match.json) through the edge', () => {
  it('has vectors', () => expect(vectors.cases.length).toBeGreaterThan(10));
  for (const v of vectors.cases) {
    it(v.name, () => {
      const t = parseBodyTarget(v.target);
      expect(t).toEqual(toTarget(v.target));
      const groups = planPurge([t!], undefined, undefined);
      const items = groups.get(t!.context)!;
      expect(items).toHaveLength(1);
      expect(appliesTo(items[0]!, v.instance)).toBe(v.matches);

      const log = new FreshnessLog();
      const tok = log.begin();
      log.purge(items);
      expect(log.check([{ ...v.instance, ...tok }])).toBe(!v.matches);
    });
  }
});
