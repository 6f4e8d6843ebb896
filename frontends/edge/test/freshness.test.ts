import { describe, expect, it } from 'vitest';
import { FreshnessLog, MAX_LOGGED_PARAMS } from '../src/freshness.js';
import { planPurge } from '../src/purge.js';

const user = (id: string, uid?: string) =>
  uid === undefined ? { context: 'user', params: { user_id: id } } : { context: 'user', params: { user_id: id }, uid };

describe('FreshnessLog', () => {
  it('a fresh entry stays fresh without purges', () => {
    const log = new FreshnessLog();
    const tok = log.begin();
    expect(log.check([{ ...user('1'), ...tok }])).toBe(true);
  });

  it('a scoped purge stales the matching instance only', () => {
    const log = new FreshnessLog();
    const tok = log.begin();
    log.purge([{ context: 'user', params: { user_id: '1' } }]);
    expect(log.check([{ ...user('1'), ...tok }])).toBe(false);
    expect(log.check([{ ...user('2'), ...tok }])).toBe(true);
    // Any stale item makes the whole entry stale.
    expect(log.check([{ ...user('2'), ...tok }, { ...user('1'), ...tok }])).toBe(false);
  });

  it('a broad purge stales every instance', () => {
    const log = new FreshnessLog();
    const tok = log.begin();
    log.purge([{ context: 'user', params: {} }]);
    expect(log.check([{ ...user('1'), ...tok }])).toBe(false);
    expect(log.check([{ context: 'user', params: {}, ...tok }])).toBe(false);
  });

  it('purges before the token do not apply (they reached the origin first)', () => {
    const log = new FreshnessLog();
    log.purge([{ context: 'user', params: {} }]);
    const tok = log.begin();
    expect(tok.seq).toBe(1);
    expect(log.check([{ ...user('1'), ...tok }])).toBe(true);
  });

  it('a narrowed purge stales that caller only; entries without a user hash are untouched', () => {
    const log = new FreshnessLog();
    const tok = log.begin();
    log.purge([{ context: 'user', params: {}, uid: 'aaa' }]);
    expect(log.check([{ ...user('1', 'aaa'), ...tok }])).toBe(false);
    expect(log.check([{ ...user('1', 'bbb'), ...tok }])).toBe(true);
    expect(log.check([{ ...user('1'), ...tok }])).toBe(true);
    // A broad (not narrowed) purge applies to every caller.
    log.purge([{ context: 'user', params: { user_id: '1' } }]);
    expect(log.check([{ ...user('1', 'bbb'), ...tok }])).toBe(false);
  });

  it('planPurge narrows caller_scoped contexts to the caller, and nothing else', () => {
    const mutation = { affects: ['global', 'user'], auto_scoped_params: [], caller_scoped: ['global'] };
    const g = planPurge(
      [
        { context: 'global', params: {} },
        { context: 'user', params: { user_id: '1' } },
        { context: 'global', function: 'current_user', params: {} },
      ],
      mutation,
      'uid1',
    );
    expect(g.get('global')).toEqual([
      { context: 'global', params: {}, uid: 'uid1' },
      { context: 'global', params: {} },
    ]);
    expect(g.get('user')).toEqual([{ context: 'user', params: { user_id: '1' } }]);
    // No caller, or no mutation: broad.
    expect(planPurge([{ context: 'global', params: {} }], mutation, undefined).get('global')).toEqual([
      { context: 'global', params: {} },
    ]);
    expect(planPurge([{ context: 'global', params: {} }], undefined, 'uid1').get('global')).toEqual([
      { context: 'global', params: {} },
    ]);
  });

  it('a purge scoped by oversized params is logged broad: it stales more, never less', () => {
    const log = new FreshnessLog({ epoch: 'e' });
    const t = log.begin();
    const huge = 'x'.repeat(MAX_LOGGED_PARAMS + 1);
    log.purge([{ context: 'c', params: { q: huge } }]);
    const item = (params: Record<string, string>) => ({ context: 'c', params, ...t });
    expect(log.check([item({ q: huge })])).toBe(false);
    expect(log.check([item({ q: 'other' })])).toBe(false);
    expect(log.check([{ context: 'd', params: {}, ...t }])).toBe(true);
  });

  it('bounding the log raises the floor to the largest dropped seq', () => {
    const log = new FreshnessLog({ limit: 3 });
    const t0 = log.begin(); // seq 0
    log.purge([{ context: 'user', params: { user_id: '9' } }]); // seq 1
    const t1 = log.begin(); // seq 1
    log.purge([{ context: 'user', params: { user_id: '9' } }]); // seq 2
    const t2 = log.begin();
    expect(log.floor).toBe(0);
    log.purge([
      { context: 'user', params: { user_id: '9' } }, // seq 3
      { context: 'user', params: { user_id: '9' } }, // seq 4: drops seq 1
    ]);
    expect(log.size).toBe(3);
    expect(log.floor).toBe(1);
    // t0 (seq 0) predates the dropped purge 1: stale although user 1 was never purged.
    expect(log.check([{ ...user('1'), ...t0 }])).toBe(false);
    // t1 (seq 1) saw purge 1: the floor does not stale it.
    expect(log.check([{ ...user('1'), ...t1 }])).toBe(true);
    log.purge([{ context: 'user', params: { user_id: '9' } }]); // seq 5: drops seq 2
    expect(log.floor).toBe(2);
    expect(log.check([{ ...user('1'), ...t1 }])).toBe(false);
    expect(log.check([{ ...user('1'), ...t2 }])).toBe(true);
    expect(log.check([{ ...user('9'), ...t2 }])).toBe(false);
  });

  it('a bounded log stays exact through compaction', () => {
    const log = new FreshnessLog({ limit: 10 });
    for (let i = 0; i < 5000; i++) log.purge([{ context: 'user', params: { user_id: String(i % 7) } }]);
    expect(log.size).toBe(10);
    expect(log.floor).toBe(4990);
    const tok = log.begin();
    log.purge([{ context: 'user', params: { user_id: '3' } }]);
    expect(log.check([{ ...user('3'), ...tok }])).toBe(false);
    expect(log.check([{ ...user('4'), ...tok }])).toBe(true);
  });

  it('another epoch, a future seq or a malformed item is stale', () => {
    const log = new FreshnessLog();
    const tok = log.begin();
    expect(log.check([{ ...user('1'), epoch: 'other', seq: tok.seq }])).toBe(false);
    expect(new FreshnessLog().check([{ ...user('1'), ...tok }])).toBe(false);
    expect(log.check([{ ...user('1'), epoch: tok.epoch, seq: tok.seq + 1 }])).toBe(false);
    expect(log.check([{ context: 'user', params: { user_id: 1 }, ...tok }])).toBe(false);
    expect(log.check([null])).toBe(false);
  });

  it('a malformed purge purges broadly, never nothing', () => {
    const log = new FreshnessLog();
    const tok = log.begin();
    log.purge([{ context: 'user', params: { user_id: 1 } }]);
    expect(log.check([{ ...user('2'), ...tok }])).toBe(false);
    const log2 = new FreshnessLog();
    const tok2 = log2.begin();
    log2.purge([42]);
    expect(log2.check([{ context: 'other', params: {}, ...tok2 }])).toBe(false);
  });
});
