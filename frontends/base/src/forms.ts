// @mizan/base/forms: the client-side check of a form's rules (docs/spec.md
// §10, docs/forms.md). An entry point of its own, framework-free and small:
// it checks what the schema says the client can check, with the server's
// (go-playground/validator's) semantics and messages; the server remains the
// judge (`server_only` fields, `<form>_validate`, the submit itself).

/** A field's type in a form schema. */
export type FormFieldType = 'string' | 'int' | 'number' | 'bool' | 'formset';

/** One field of a form schema (`<form>_schema`, the IR's `form` node); every key but name/type/label/required is omitted when unset. */
export interface FormFieldSchema {
  name: string;
  type: FormFieldType;
  label: string;
  required: boolean;
  /** Inclusive bounds: code points of a string, the value of an int/number, the rows of a formset. */
  min?: number;
  max?: number;
  /** Exclusive bounds (the server emits them for `number` only). */
  gt?: number;
  lt?: number;
  /** Exact code points of a string, or rows of a formset. */
  len?: number;
  email?: boolean;
  url?: boolean;
  /** The allowed values as strings (an int is compared as String(value)). */
  choices?: readonly string[];
  /** An anchored regular expression source, compiled with the `u` flag. */
  pattern?: string;
  pattern_message?: string;
  /** The field also has rules only the server decides. */
  server_only?: boolean;
  widget?: string;
  /** A formset's row fields. */
  fields?: readonly FormFieldSchema[];
}

/** A form's schema, as `<form>_schema` returns it. */
export interface FormSchema {
  name: string;
  route?: string;
  fields: readonly FormFieldSchema[];
}

/** Failing fields and their messages: `name`, and for formset rows `lines.<i>.<field>`; `{}` when valid. */
export type FormErrors = Record<string, string[]>;

const REQUIRED = 'This field is required.';

// validator's email: a local part that is a dot-atom of atext and the
// unicode ranges below, or (more leniently than validator) any quoted string;
// "@"; a domain of a part that starts and ends with a letter, digit or one of
// those ranges, a dot, and a final part that starts and ends with a letter or
// one of those (net/mail.ParseAddress adds: no "..", no trailing dot).
const U = '\\u00A0-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFEF';
const A = `[\\w!#$%&'*+/=?^\`{|}~${U}-]+`;
const X = `[a-z\\d${U}]`;
const Y = `[a-z${U}]`;
const Z = `[a-z\\d.~${U}-]*`;
const EMAIL = new RegExp(`^(${A}(\\.${A})*|".+")@(?!.*\\.\\.)${X}(${Z}${X})?\\.${Y}(${Z}${Y})?$`, 'i');

// isURL mirrors validator's `url` (net/url.Parse of the lower-cased string
// with a scheme; file: needs a path other than "/", any other scheme a host,
// a fragment or an opaque part), except that it does not check the host's
// characters, port or brackets, nor the user info (docs/forms.md, limits).
function isURL(raw: string): boolean {
  const [u = '', ...hash] = raw.toLowerCase().split('#');
  const frag = hash.join('#');
  // The scheme, and the rest up to the query (never checked).
  const [, scheme, rest = ''] = /^([a-z][a-z\d+.-]*):([^?]*)/.exec(u) ?? [];
  // An opaque part may hold any %; elsewhere it starts two hex digits.
  const opaque = rest[0] !== '/';
  const [, host = '', path = rest] = opaque ? [] : (/^\/\/(?:[^/]*@)?([^/]*)(.*)/s.exec(rest) ?? []);
  return (
    !!scheme &&
    !/[\0-\x1f\x7f]/.test(u) &&
    !/%(?![\da-f]{2})/.test(frag + (opaque ? '' : '#' + rest)) &&
    (scheme === 'file' ? !opaque && path.length > 1 : (opaque ? rest : host) + frag !== '')
  );
}

/** isEmpty reports whether a value counts as absent: undefined, null, or "" (except for a formset). */
export function isEmpty(field: FormFieldSchema, value: unknown): boolean {
  return value == null || (value === '' && field.type !== 'formset');
}

// The type checks and their messages.
const TYPES: Record<FormFieldType, [(v: unknown) => boolean, string]> = {
  string: [(v) => typeof v === 'string', 'Enter text.'],
  int: [Number.isInteger, 'Enter a whole number.'],
  number: [Number.isFinite, 'Enter a number.'],
  bool: [(v) => typeof v === 'boolean', 'Enter true or false.'],
  formset: [Array.isArray, 'Enter a list of rows.'],
};

// The bounds in canonical order, and their words for a length and a value.
const BOUNDS = ['len', 'min', 'max', 'gt', 'lt'] as const;
const LENGTH = ['exactly', 'at least', 'at most', 'more than', 'fewer than'];
const VALUE = ['of exactly', 'of at least', 'of at most', 'greater than', 'less than'];

// parse reads a raw string from an input: an int's digits, a number's
// decimal, a bool's "true", "false" or "on".
const parse = (t: FormFieldType, v: unknown): unknown =>
  typeof v !== 'string'
    ? v
    : (t === 'int' ? /^[+-]?\d+$/ : t === 'number' ? /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i : /$^/).test(v)
      ? Number(v)
      : t === 'bool' && /^(true|false|on)$/.test(v)
        ? v !== 'false'
        : v;

/**
 * checkField returns the messages of the field's client-checkable rules that
 * value fails, in canonical order ([] when it passes). For a formset it
 * checks the set only (required, len, min, max on the number of rows);
 * checkForm checks the rows.
 */
export function checkField(field: FormFieldSchema, value: unknown): string[] {
  if (isEmpty(field, value)) return field.required ? [REQUIRED] : [];
  const t = field.type;
  const v = parse(t, value);
  const [ok, bad] = TYPES[t];
  if (!ok(v)) return [bad];
  // validator's required is "not the zero value": false, 0 (and -0); a
  // string's "" is empty above, a formset's [] passes.
  if (field.required && (v === false || v === 0)) return [REQUIRED];
  const out: string[] = [];
  const text = typeof v === 'string';
  const rows = Array.isArray(v);
  const size = text ? [...v].length : rows ? v.length : (v as number);
  BOUNDS.forEach((key, i) => {
    const n = field[key];
    if (n !== undefined && [size !== n, size < n, size > n, size <= n, size >= n][i])
      out.push(
        text || rows
          ? `${text ? 'Use' : 'Add'} ${LENGTH[i]} ${n} ${text ? 'character' : 'row'}${n === 1 ? '' : 's'}.`
          : `Enter a value ${VALUE[i]} ${n}.`,
      );
  });
  const choices = field.choices;
  if (choices && !choices.includes(String(v))) out.push(`Select one of: ${choices.join(', ')}.`);
  if (text) {
    if (field.email && !EMAIL.test(v)) out.push('Enter a valid email address.');
    if (field.url && !isURL(v)) out.push('Enter a valid URL.');
    if (field.pattern !== undefined && !new RegExp(field.pattern, 'u').test(v))
      out.push(field.pattern_message ?? 'Enter a value in the expected format.');
  }
  return out;
}

// own returns o[key] when o is an object with that key of its own.
const own = (o: unknown, key: string): unknown =>
  Object.hasOwn(Object(o), key) ? (Object(o) as Record<string, unknown>)[key] : undefined;

/**
 * checkForm checks every field of the schema against values (a formset's
 * rows too, keyed `<formset>.<i>.<field>`) and returns the failing keys only:
 * `{}` means valid as far as the client can tell.
 */
export function checkForm(schema: FormSchema, values: Record<string, unknown>): FormErrors {
  const errors: FormErrors = {};
  const check = (key: string, field: FormFieldSchema, value: unknown): void => {
    const messages = checkField(field, value);
    if (messages.length) errors[key] = messages;
    if (field.type === 'formset' && Array.isArray(value))
      value.forEach((row: unknown, i) => {
        for (const sub of field.fields ?? []) check(`${key}.${i}.${sub.name}`, sub, own(row, sub.name));
      });
  };
  for (const field of schema.fields) check(field.name, field, own(values, field.name));
  return errors;
}
