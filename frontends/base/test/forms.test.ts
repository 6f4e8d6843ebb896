// @mizan/base/forms: the shared rule table (testdata/forms/rules.json, whose
// verdicts are go-playground/validator's and which the Go tests run too),
// then the messages, formset keys and type handling one by one, then
// properties over arbitrary input (fixed seed, printed by fast-check on
// failure).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkField,
  checkForm,
  isEmpty,
  type FormErrors,
  type FormFieldSchema,
  type FormSchema,
} from '../src/forms.js';

interface RuleCase {
  value?: unknown;
  errors: FormErrors;
}
interface RuleGroup {
  tag: string;
  type: string;
  row_type?: string;
  row_tag?: string;
  field: FormFieldSchema;
  cases: RuleCase[];
}

// The shared table of the repository (docs/forms.md), not a copy.
const table = JSON.parse(
  readFileSync(new URL('../../../testdata/forms/rules.json', import.meta.url), 'utf8'),
) as { about: string; groups: RuleGroup[] };

const field = (type: FormFieldSchema['type'], rules: Partial<FormFieldSchema> = {}): FormFieldSchema => ({
  name: 'f',
  type,
  label: 'F',
  required: false,
  ...rules,
});

describe('the rule table', () => {
  const cases = table.groups.flatMap((g) =>
    g.cases.map((c, i) => [`${g.type} ${JSON.stringify(g.tag)} #${i}: ${'value' in c ? JSON.stringify(c.value) : 'absent'}`, g, c] as const),
  );

  it('covers every client rule, with enough cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    const keys = new Set(table.groups.flatMap((g) => [g.field, ...(g.field.fields ?? [])].flatMap((f) => Object.keys(f))));
    for (const k of ['required', 'len', 'min', 'max', 'gt', 'lt', 'choices', 'email', 'url', 'pattern', 'pattern_message', 'fields'])
      expect(keys, k).toContain(k);
    expect(new Set(table.groups.map((g) => g.type))).toEqual(new Set(['string', 'int', 'number', 'bool', 'formset']));
    for (const tag of ['alpha', 'alphanum', 'numeric', 'hexadecimal'])
      expect(table.groups.some((g) => g.tag.split(',').includes(tag)), tag).toBe(true);
    // A formset group names its Go row type and tag.
    for (const g of table.groups.filter((g) => g.type === 'formset')) {
      expect(g.row_type).toBe(g.field.fields?.[0]?.type);
      expect(g.row_tag).toBeTypeOf('string');
    }
  });

  it.each(cases)('%s', (_, g, c) => {
    const values = 'value' in c ? { f: c.value } : {};
    expect(checkForm({ name: 't', fields: [g.field] }, values)).toStrictEqual(c.errors);
  });
});

describe('messages', () => {
  it('says character and row in the singular for 1', () => {
    expect(checkField(field('string', { len: 1 }), 'ab')).toEqual(['Use exactly 1 character.']);
    expect(checkField(field('string', { min: 1 }), ' ')).toEqual([]);
    expect(checkField(field('string', { max: 1 }), 'ab')).toEqual(['Use at most 1 character.']);
    expect(checkField(field('formset', { min: 1 }), [])).toEqual(['Add at least 1 row.']);
    expect(checkField(field('formset', { len: 1 }), [{}, {}])).toEqual(['Add exactly 1 row.']);
    expect(checkField(field('formset', { max: 1 }), [{}, {}])).toEqual(['Add at most 1 row.']);
  });

  it('says characters and rows for any other n', () => {
    expect(checkField(field('string', { min: 2 }), 'a')).toEqual(['Use at least 2 characters.']);
    expect(checkField(field('string', { len: 0 }), 'a')).toEqual(['Use exactly 0 characters.']);
    expect(checkField(field('formset', { min: 2 }), [{}])).toEqual(['Add at least 2 rows.']);
    expect(checkField(field('formset', { max: 0 }), [{}])).toEqual(['Add at most 0 rows.']);
  });

  it('prints a value bound as a decimal', () => {
    const f = field('number', { min: 1, max: 2.5, gt: -0.25, lt: 1e6 });
    expect(checkField(f, 0.5)).toEqual(['Enter a value of at least 1.']);
    expect(checkField(f, 3)).toEqual(['Enter a value of at most 2.5.']);
    expect(checkField(f, -1)).toEqual(['Enter a value of at least 1.', 'Enter a value greater than -0.25.']);
    expect(checkField(field('number', { lt: 1e6 }), 2e6)).toEqual(['Enter a value less than 1000000.']);
    expect(checkField(field('int', { min: 1 }), 0)).toEqual(['Enter a value of at least 1.']);
  });

  it('lists every failing rule in canonical order', () => {
    const f = field('string', {
      required: true,
      len: 3,
      min: 4,
      max: 1,
      choices: ['x', 'y'],
      email: true,
      url: true,
      pattern: '^[0-9]+$',
    });
    expect(checkField(f, 'ab')).toEqual([
      'Use exactly 3 characters.',
      'Use at least 4 characters.',
      'Use at most 1 character.',
      'Select one of: x, y.',
      'Enter a valid email address.',
      'Enter a valid URL.',
      'Enter a value in the expected format.',
    ]);
    expect(checkField({ ...f, pattern_message: 'Use digits.' }, 'ab').at(-1)).toBe('Use digits.');
  });

  it('stops at required and at a type error', () => {
    const f = field('string', { required: true, min: 3, email: true });
    expect(checkField(f, '')).toEqual(['This field is required.']);
    expect(checkField(f, undefined)).toEqual(['This field is required.']);
    expect(checkField(f, null)).toEqual(['This field is required.']);
    expect(checkField(f, 12)).toEqual(['Enter text.']);
    expect(checkField(field('int', { required: true, min: 5 }), 0)).toEqual(['This field is required.']);
    expect(checkField(field('bool', { required: true }), false)).toEqual(['This field is required.']);
    expect(checkField(field('formset', { required: true }), [])).toEqual([]);
  });

  it('compares an int with its choices as a decimal string', () => {
    const f = field('int', { choices: ['1', '20'] });
    expect(checkField(f, 20)).toEqual([]);
    expect(checkField(f, '20')).toEqual([]);
    expect(checkField(f, 2)).toEqual(['Select one of: 1, 20.']);
  });
});

describe('types', () => {
  it('parses an int from an input, digits only', () => {
    const f = field('int', { required: true, min: 1 });
    expect(checkField(f, '42')).toEqual([]);
    expect(checkField(f, '+7')).toEqual([]);
    expect(checkField(f, '007')).toEqual([]);
    expect(checkField(f, '-3')).toEqual(['Enter a value of at least 1.']);
    expect(checkField(f, '0')).toEqual(['This field is required.']);
    for (const v of [' 4', '4 ', '4.0', '1e3', '0x10', 'four', '4.5', 4.5, NaN, Infinity, true, [], {}])
      expect(checkField(f, v), String(v)).toEqual(['Enter a whole number.']);
    expect(checkField(f, '')).toEqual(['This field is required.']);
  });

  it('parses a number from an input, decimal only', () => {
    const f = field('number', { min: 0 });
    for (const v of ['1.5', '.5', '5.', '-0', '+2', '1e3', '1E-3']) expect(checkField(f, v), v).toEqual([]);
    expect(checkField(f, '-1.5')).toEqual(['Enter a value of at least 0.']);
    for (const v of ['abc', ' 1', '0x10', '1e999', 'Infinity', 'NaN', NaN, -Infinity, false, ['1']])
      expect(checkField(f, v), String(v)).toEqual(['Enter a number.']);
    expect(checkField(f, '')).toEqual([]);
  });

  it('takes a bool, or an input\'s "true", "false" and "on"', () => {
    const f = field('bool', { required: true });
    expect(checkField(f, true)).toEqual([]);
    expect(checkField(f, 'on')).toEqual([]);
    expect(checkField(f, 'true')).toEqual([]);
    expect(checkField(f, 'false')).toEqual(['This field is required.']);
    expect(checkField(f, false)).toEqual(['This field is required.']);
    for (const v of ['yes', 'True', 1, 0, {}]) expect(checkField(f, v), String(v)).toEqual(['Enter true or false.']);
    expect(checkField(field('bool'), false)).toEqual([]);
  });

  it('takes a string as it is: no trimming, code points counted', () => {
    const f = field('string', { required: true, max: 2 });
    expect(checkField(f, ' ')).toEqual([]);
    expect(checkField(f, '😀😀')).toEqual([]); // 4 UTF-16 units, 2 code points
    expect(checkField(f, 'e\u0301e')).toEqual(['Use at most 2 characters.']); // combining marks count
    expect(checkField(f, 12)).toEqual(['Enter text.']);
  });

  it('wants an array for a formset', () => {
    const f = field('formset', { required: true });
    expect(checkField(f, '')).toEqual(['Enter a list of rows.']);
    expect(checkField(f, {})).toEqual(['Enter a list of rows.']);
    expect(checkField(f, null)).toEqual(['This field is required.']);
  });

  it('counts empty as undefined, null or "" (not whitespace; a formset\'s "" is not empty)', () => {
    expect(isEmpty(field('string'), undefined)).toBe(true);
    expect(isEmpty(field('string'), null)).toBe(true);
    expect(isEmpty(field('int'), '')).toBe(true);
    expect(isEmpty(field('string'), ' ')).toBe(false);
    expect(isEmpty(field('int'), 0)).toBe(false);
    expect(isEmpty(field('bool'), false)).toBe(false);
    expect(isEmpty(field('formset'), [])).toBe(false);
    expect(isEmpty(field('formset'), '')).toBe(false);
  });

  it('leaves a server-only rule to the server', () => {
    expect(checkField(field('string', { server_only: true, max: 3 }), 'ok')).toEqual([]);
    expect(checkField(field('string', { server_only: true, max: 3 }), 'long')).toEqual(['Use at most 3 characters.']);
  });
});

// The contract's two example forms (docs/spec.md §10).
const contact: FormSchema = {
  name: 'contact',
  route: '/contact/',
  fields: [
    { name: 'name', type: 'string', label: 'Name', required: true, max: 100 },
    { name: 'email', type: 'string', label: 'Email', required: true, email: true },
    { name: 'age', type: 'int', label: 'Age', required: false, min: 18, max: 130 },
    { name: 'topic', type: 'string', label: 'Topic', required: true, choices: ['sales', 'support'] },
    { name: 'message', type: 'string', label: 'Message', required: true, min: 10, max: 2000, widget: 'textarea' },
  ],
};
const orderLines: FormSchema = {
  name: 'order_lines',
  fields: [
    { name: 'customer', type: 'string', label: 'Customer', required: true },
    {
      name: 'lines',
      type: 'formset',
      label: 'Lines',
      required: true,
      min: 1,
      max: 5,
      fields: [
        { name: 'sku', type: 'string', label: 'Sku', required: true, len: 6 },
        { name: 'qty', type: 'int', label: 'Qty', required: true, min: 1, max: 99 },
      ],
    },
  ],
};

describe('checkForm', () => {
  it('checks every field and keeps only the failing ones', () => {
    expect(
      checkForm(contact, { name: 'Ann', email: 'ann@example.com', topic: 'sales', message: 'Hello there!' }),
    ).toStrictEqual({});
    expect(checkForm(contact, { name: 'Ann', email: 'ann@', age: '17', topic: 'other', message: 'Hi' })).toStrictEqual({
      email: ['Enter a valid email address.'],
      age: ['Enter a value of at least 18.'],
      topic: ['Select one of: sales, support.'],
      message: ['Use at least 10 characters.'],
    });
    expect(checkForm(contact, {})).toStrictEqual({
      name: ['This field is required.'],
      email: ['This field is required.'],
      topic: ['This field is required.'],
      message: ['This field is required.'],
    });
  });

  it('keys formset rows <formset>.<i>.<field>, next to the set', () => {
    const lines = [{ sku: 'ABC123', qty: 2 }, { sku: 'ABC', qty: 0 }, { qty: '100' }, 'not a row', null];
    expect(checkForm(orderLines, { customer: 'ACME', lines: lines.slice(0, 1) })).toStrictEqual({});
    expect(checkForm(orderLines, { customer: 'ACME', lines })).toStrictEqual({
      'lines.1.sku': ['Use exactly 6 characters.'],
      'lines.1.qty': ['This field is required.'],
      'lines.2.sku': ['This field is required.'],
      'lines.2.qty': ['Enter a value of at most 99.'],
      'lines.3.sku': ['This field is required.'],
      'lines.3.qty': ['This field is required.'],
      'lines.4.sku': ['This field is required.'],
      'lines.4.qty': ['This field is required.'],
    });
    // The set and its rows both: the client lists all it knows.
    expect(checkForm(orderLines, { customer: 'ACME', lines: Array(6).fill({ sku: 'ABC123', qty: 100 }) })).toMatchObject({
      lines: ['Add at most 5 rows.'],
      'lines.5.qty': ['Enter a value of at most 99.'],
    });
    expect(checkForm(orderLines, { customer: 'ACME', lines: [] })).toStrictEqual({ lines: ['Add at least 1 row.'] });
    expect(checkForm(orderLines, { customer: 'ACME' })).toStrictEqual({ lines: ['This field is required.'] });
    expect(checkForm(orderLines, { customer: 'ACME', lines: 'x' })).toStrictEqual({ lines: ['Enter a list of rows.'] });
  });

  it('reads own keys only, and ignores keys the schema does not name', () => {
    const schema: FormSchema = { name: 't', fields: [field('string', { name: 'constructor', required: true })] };
    // (entries: toStrictEqual would compare the objects' .constructor)
    expect(Object.entries(checkForm(schema, {}))).toStrictEqual([['constructor', ['This field is required.']]]);
    expect(checkForm(schema, { constructor: 'x', other: 5 })).toStrictEqual({});
    const rows: FormSchema = {
      name: 't',
      fields: [field('formset', { name: 'l', fields: [field('int', { name: 'toString', required: true })] })],
    };
    expect(checkForm(rows, { l: [{}] })).toStrictEqual({ 'l.0.toString': ['This field is required.'] });
  });
});

describe('properties', () => {
  const seed = 20261215;
  const numRuns = 1000;
  const every: FormSchema = {
    name: 'every',
    fields: [
      field('string', { name: 's', required: true, min: 1, max: 5, choices: ['a'], email: true, url: true, pattern: '^a+$' }),
      field('int', { name: 'i', min: -5, max: 5, gt: -9, lt: 9, choices: ['1'] }),
      field('number', { name: 'n', required: true, gt: 0, lt: 1 }),
      field('bool', { name: 'b', required: true }),
      field('formset', {
        name: 'l',
        len: 2,
        fields: [field('string', { name: 's', len: 2, url: true }), field('int', { name: 'i', required: true })],
      }),
    ],
  };

  it('checkForm never throws, and answers string arrays under schema keys', () => {
    const values = fc.dictionary(fc.constantFrom('s', 'i', 'n', 'b', 'l', 'x'), fc.jsonValue());
    fc.assert(
      fc.property(values, fc.array(fc.jsonValue(), { maxLength: 4 }), (v, rows) => {
        for (const input of [v, { ...v, l: rows }]) {
          const errors = checkForm(every, input);
          for (const [key, messages] of Object.entries(errors)) {
            expect(key).toMatch(/^(s|i|n|b|l|l\.\d+\.(s|i))$/);
            expect(messages.length).toBeGreaterThan(0);
            for (const m of messages) expect(m).toMatch(/^[A-Z].*\.$/);
          }
        }
      }),
      { seed, numRuns },
    );
  });

  it('a string of length within [min, max] code points gets no min/max message, outside it one', () => {
    const arb = fc
      .tuple(fc.nat(8), fc.nat(8), fc.nat(12))
      .chain(([a, b, n]) =>
        fc.tuple(fc.constant(Math.min(a, b)), fc.constant(Math.max(a, b)), fc.string({ unit: 'binary', minLength: n, maxLength: n })),
      );
    fc.assert(
      fc.property(arb, ([min, max, s]) => {
        const n = [...s].length;
        const messages = checkField(field('string', { required: true, min, max }), s);
        if (s === '') expect(messages).toEqual(['This field is required.']);
        else if (n < min) expect(messages).toEqual([`Use at least ${min} character${min === 1 ? '' : 's'}.`]);
        else if (n > max) expect(messages).toEqual([`Use at most ${max} character${max === 1 ? '' : 's'}.`]);
        else expect(messages).toEqual([]);
      }),
      { seed, numRuns },
    );
  });

  it('an int within [min, max] passes, and its decimal string does too', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), fc.integer(), (a, b, v) => {
        const f = field('int', { min: Math.min(a, b), max: Math.max(a, b) });
        const inside = v >= Math.min(a, b) && v <= Math.max(a, b);
        expect(checkField(f, v).length === 0).toBe(inside);
        expect(checkField(f, String(v))).toEqual(checkField(f, v));
      }),
      { seed, numRuns },
    );
  });
});
