// @mizan/react/forms: useForm, form state over the kernel (docs/spec.md §10).
// The rules a client can check run at once (checkField and checkForm of
// @mizan/base/forms); a field marked server_only also asks the form's
// <form>_validate function; submit calls the form's submit function through
// the client, so its targets invalidate as for any mutation.
import type { MizanError, Updater } from '@mizan/base';
import { checkField, checkForm, type FormErrors, type FormFieldSchema, type FormSchema } from '@mizan/base/forms';
import { useEffect, useMemo, useReducer, useRef } from 'react';
import { useMizan } from './index.js';

/** A field's key: a field's name, or a formset row's field, `lines.0.sku`. */
export type FieldPath<V> = (keyof V & string) | `${keyof V & string}.${number}.${string}`;

/** The row type of a formset field's values. */
export type FormsetRow<T> = T extends readonly (infer E)[] ? E : Record<string, unknown>;

/**
 * Options of useForm. O is the type of the optimistic updaters of the
 * submit function (a generated hook's <Mutation>Optimistic).
 */
export interface FormOptions<V, R, O extends object = Record<string, Updater>> {
  /** The form's submit function (the form's name). */
  submit: string;
  /** The form's validate function (<form>_validate), asked about server_only fields. */
  validate?: string;
  /** The values the form starts with, and reset() goes back to. */
  initial?: Partial<V>;
  /**
   * The errors the form starts with, by key: those of a server-rendered
   * page that answered an invalid post (the `form` prop's `errors`, see
   * docs/forms.md), so that hydration shows what the server rendered.
   * reset() clears them.
   */
  initialErrors?: FormErrors;
  /** How long validateField waits for more changes before asking the server (ms, default 300). */
  debounceMs?: number;
  /** Called with the result of a successful submit. */
  onSuccess?: (result: R) => void;
  /**
   * Optimistic updaters of the submit call, by context function, from
   * that function's data and the form's values (CallOptions of
   * @mizan/base; docs/client.md, "Optimistic updates"): applied when the
   * call is sent, rolled back if it fails.
   */
  optimistic?: O;
}

/** The rows of a formset and the ways to change them; the rows' errors follow their rows. */
export interface FormsetState<Row> {
  rows: Partial<Row>[];
  append: (row?: Partial<Row>) => void;
  remove: (index: number) => void;
  move: (from: number, to: number) => void;
}

/** The state of a form. */
export interface FormState<V, R> {
  /** The current values. An int or number field may hold the string typed when it is not a number. */
  values: Partial<V>;
  setValue: (name: FieldPath<V>, value: unknown) => void;
  /** The messages of each failing key (docs/spec.md §10): `name`, `lines`, `lines.0.sku`. */
  errors: FormErrors;
  /** The first message of a key, if any. */
  error: (name: FieldPath<V>) => string | undefined;
  /** Checks one key now (and, for a server_only field, asks the server, debounced); resolves to its messages. */
  validateField: (name: FieldPath<V>) => Promise<string[]>;
  /** Checks the form, then calls the submit function; undefined when the form is invalid or the call failed. */
  submit: () => Promise<R | undefined>;
  isSubmitting: boolean;
  /** The error of the last submit call, until the next submit or reset. */
  submitError: MizanError | undefined;
  /** Goes back to values (default: the initial values), clearing every error. */
  reset: (values?: Partial<V>) => void;
  formset: <K extends keyof V & string>(name: K) => FormsetState<FormsetRow<V[K]>>;
}

type Values = Record<string, unknown>;
type Rows = Record<string, unknown>[];
interface Pending {
  seq: number;
  timer?: ReturnType<typeof setTimeout>;
  waiters: ((messages: string[]) => void)[];
}

const NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

/** The schema of a key: a field, a formset, or a formset row's field. */
function fieldAt(schema: FormSchema, key: string): FormFieldSchema | undefined {
  const [top, i, sub] = key.split('.');
  const f = schema.fields.find((x) => x.name === top);
  return i === undefined ? f : f?.fields?.find((x) => x.name === sub);
}

function rowsOf(values: Values, name: string): Rows {
  const rows = values[name];
  return Array.isArray(rows) ? rows : [];
}

function valueAt(values: Values, key: string): unknown {
  const [top = '', i, sub = ''] = key.split('.');
  return i === undefined ? values[top] : rowsOf(values, top)[Number(i)]?.[sub];
}

/** An input's string as the field's type: a number when it is one, "" as absent; other strings stay. */
function convert(field: FormFieldSchema | undefined, v: unknown): unknown {
  if (typeof v !== 'string' || !field) return v;
  if (field.type === 'int' || field.type === 'number') return v === '' ? undefined : NUMBER.test(v) ? Number(v) : v;
  if (field.type === 'bool') return v === '' ? undefined : v === 'true' || v === 'on' ? true : v === 'false' ? false : v;
  return v;
}

/**
 * useForm binds a form's schema to state: values, the errors of each key,
 * submit through the client of the nearest MizanProvider.
 */
export function useForm<V extends Record<string, unknown>, R, O extends object = Record<string, Updater>>(
  schema: FormSchema,
  options: FormOptions<V, R, O>,
): FormState<V, R> {
  const client = useMizan();
  const opts = useRef(options);
  opts.current = options;
  const [, render] = useReducer((n: number) => n + 1, 0);
  const st = useRef({
    values: (options.initial ?? {}) as Values,
    errors: { ...options.initialErrors } as FormErrors,
    inFlight: 0,
    submitError: undefined as MizanError | undefined,
  }).current;

  const api = useMemo(() => {
    const pending = new Map<string, Pending>();
    const set = (patch: Partial<typeof st>): void => {
      Object.assign(st, patch);
      render();
    };
    const setErrors = (key: string, messages: string[]): void => {
      const { [key]: _, ...errors } = st.errors;
      set({ errors: messages.length ? { ...errors, [key]: messages } : errors });
    };
    // cancel drops the server checks waiting or in flight for keys matching
    // keep (all when not given), resolving their promises with messages.
    const cancel = (match: (key: string) => boolean = () => true, messages: string[] = []): void => {
      for (const [key, p] of pending) {
        if (!match(key)) continue;
        clearTimeout(p.timer);
        p.seq++;
        p.waiters.splice(0).forEach((w) => w(messages));
      }
    };
    const check = (key: string): string[] => {
      const field = fieldAt(schema, key);
      return field ? checkField(field, valueAt(st.values, key)) : [];
    };
    // rekey moves the row errors of formset name to their rows' new
    // places, order[new index] = old index, dropping those of removed rows,
    // and checks the set again when it had an error.
    const rekey = (name: string, rows: Rows, order: number[]): void => {
      cancel((k) => k.startsWith(name + '.'));
      const errors: FormErrors = {};
      for (const [key, messages] of Object.entries(st.errors)) {
        const m = key.startsWith(name + '.') ? /^(\d+)\.(.*)$/.exec(key.slice(name.length + 1)) : null;
        const at = m ? order.indexOf(Number(m[1])) : -2;
        if (at === -2) errors[key] = messages;
        else if (at >= 0) errors[`${name}.${at}.${m![2]}`] = messages;
      }
      st.values = { ...st.values, [name]: rows };
      set({ errors });
      if (st.errors[name]) setErrors(name, check(name));
    };
    const api: Omit<FormState<V, R>, 'values' | 'errors' | 'isSubmitting' | 'submitError'> = {
      setValue(key, value) {
        const [top = '', i, sub = ''] = key.split('.');
        const v = convert(fieldAt(schema, key), value);
        if (i === undefined) st.values = { ...st.values, [top]: v };
        else {
          const rows = [...rowsOf(st.values, top)];
          rows[Number(i)] = { ...rows[Number(i)], [sub]: v };
          st.values = { ...st.values, [top]: rows };
        }
        render();
      },
      error: (key) => st.errors[key]?.[0],
      validateField(key) {
        const messages = check(key);
        setErrors(key, messages);
        const validate = opts.current.validate;
        if (messages.length || !validate || !fieldAt(schema, key)?.server_only) {
          cancel((k) => k === key, messages);
          return Promise.resolve(messages);
        }
        let p = pending.get(key);
        if (!p) pending.set(key, (p = { seq: 0, waiters: [] }));
        const q = p;
        const seq = ++q.seq;
        clearTimeout(q.timer);
        return new Promise((resolve) => {
          q.waiters.push(resolve);
          q.timer = setTimeout(async () => {
            let out: string[];
            try {
              const r = await client.call<{ errors?: FormErrors }>(validate, st.values);
              out = r.result.errors?.[key] ?? [];
            } catch (e) {
              const msg = (e as MizanError).fields?.[key];
              out = msg ? [msg] : [];
            }
            if (seq !== q.seq) return; // a newer check of the key answers its waiters
            setErrors(key, out);
            q.waiters.splice(0).forEach((w) => w(out));
          }, opts.current.debounceMs ?? 300);
        });
      },
      async submit() {
        cancel();
        const errors = checkForm(schema, st.values);
        set({ errors, submitError: undefined });
        if (Object.keys(errors).length) return undefined;
        set({ inFlight: st.inFlight + 1 });
        try {
          const { result } = await client.call<R>(opts.current.submit, st.values, { optimistic: opts.current.optimistic });
          opts.current.onSuccess?.(result);
          return result;
        } catch (e) {
          const err = e as MizanError;
          const fields = err.code === 'invalid_args' ? err.fields : undefined;
          const errors: FormErrors = {};
          for (const [key, message] of Object.entries(fields ?? {})) errors[key] = [message];
          set({ submitError: err, errors: fields ? errors : st.errors });
          return undefined;
        } finally {
          set({ inFlight: st.inFlight - 1 });
        }
      },
      reset(values) {
        cancel();
        set({ values: (values ?? opts.current.initial ?? {}) as Values, errors: {}, submitError: undefined });
      },
      formset(name) {
        const ids = (rows: Rows): number[] => rows.map((_, j) => j);
        return {
          rows: rowsOf(st.values, name) as FormsetState<FormsetRow<V[typeof name]>>['rows'],
          append(row = {}) {
            const now = rowsOf(st.values, name);
            rekey(name, [...now, row as Values], ids(now));
          },
          remove(i) {
            const now = rowsOf(st.values, name);
            const keep = (_: unknown, j: number): boolean => j !== i;
            rekey(name, now.filter(keep), ids(now).filter(keep));
          },
          move(from, to) {
            const now = [...rowsOf(st.values, name)];
            const order = ids(now);
            now.splice(to, 0, ...now.splice(from, 1));
            order.splice(to, 0, ...order.splice(from, 1));
            rekey(name, now, order);
          },
        };
      },
    };
    return { api, cancel };
  }, [client, schema, st]);

  useEffect(() => () => api.cancel(), [api]);
  return {
    ...api.api,
    values: st.values as Partial<V>,
    errors: st.errors,
    isSubmitting: st.inFlight > 0,
    submitError: st.submitError,
  };
}
