import { MizanClient, MizanError, type CallResult, type Params, type Transport } from '@mizan/base';
import type { FormSchema } from '@mizan/base/forms';
import { registerMutationTargets } from '@mizan/base/optimistic';
import { act } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FormState } from '../src/index.js';
import { MizanProvider } from '../src/index.js';
import { useForm, type FormOptions } from '../src/form.js';

declare global {
  var IS_REACT_ACT_ENVIRONMENT: boolean;
}
beforeAll(() => {
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
});

// The forms of docs/spec.md §10, email server-only (a custom validator).
const contact: FormSchema = {
  name: 'contact',
  route: '/contact/',
  fields: [
    { name: 'name', type: 'string', label: 'Name', required: true, max: 100 },
    { name: 'email', type: 'string', label: 'Email', required: true, email: true, server_only: true },
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
        { name: 'qty', type: 'int', label: 'Qty', required: true, min: 1, max: 99, server_only: true },
      ],
    },
  ],
};

interface Contact extends Record<string, unknown> {
  name: string;
  email: string;
  age?: number | null;
  topic: string;
  message: string;
}
interface OrderLines extends Record<string, unknown> {
  customer: string;
  lines: { sku: string; qty: number }[];
}

/** A call the fake server holds until answer or fail. */
interface Held {
  fn: string;
  args: Record<string, unknown>;
  answer: (result: unknown) => void;
  fail: (e: unknown) => void;
}

/** A fake server: every call is recorded and held until the test answers it. */
class FakeServer implements Transport {
  calls: Held[] = [];
  fetchContext(_context: string, _params: Params): Promise<unknown> {
    return Promise.resolve({});
  }
  call(fn: string, args: unknown): Promise<CallResult<unknown>> {
    return new Promise((resolve, reject) => {
      this.calls.push({
        fn,
        args: JSON.parse(JSON.stringify(args)) as Record<string, unknown>,
        answer: (result) => resolve({ result, invalidate: fn.endsWith('_validate') ? [] : ['messages'] }),
        fail: reject,
      });
    });
  }
  named(fn: string): Held[] {
    return this.calls.filter((c) => c.fn === fn);
  }
}

let root: Root | undefined;
let container: HTMLElement;
afterEach(() => {
  act(() => root?.unmount());
  root = undefined;
  container?.remove();
  vi.useRealTimers();
});

/** mount renders a component holding useForm and returns a getter of its latest state. */
async function mount<V extends Record<string, unknown>>(
  schema: FormSchema,
  options: FormOptions<V, unknown>,
): Promise<{ server: FakeServer; client: MizanClient; form: () => FormState<V, unknown>; renders: () => number }> {
  const server = new FakeServer();
  const client = new MizanClient({ transport: server, retry: { attempts: 0 } });
  let state: FormState<V, unknown> | undefined;
  let renders = 0;
  function Form() {
    state = useForm<V, unknown>(schema, options);
    renders++;
    return <p>{Object.keys(state.errors).join(',')}</p>;
  }
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  await act(async () =>
    root!.render(
      <MizanProvider client={client}>
        <Form />
      </MizanProvider>,
    ),
  );
  return { server, client, form: () => state!, renders: () => renders };
}

const flush = (): Promise<void> => act(async () => {});

const valid: Contact = { name: 'Ada', email: 'ada@example.com', age: 36, topic: 'sales', message: 'Hello there, Mizan.' };

describe('useForm: submit', () => {
  it('sends no request while the client rules fail, and shows every failing field', async () => {
    const { server, form } = await mount<Contact>(contact, { submit: 'contact', validate: 'contact_validate' });
    let result: unknown = 'pending';
    await act(async () => {
      result = await form().submit();
    });
    expect(result).toBeUndefined();
    expect(server.calls).toHaveLength(0);
    expect(form().errors).toEqual({
      name: ['This field is required.'],
      email: ['This field is required.'],
      topic: ['This field is required.'],
      message: ['This field is required.'],
    });
    expect(form().error('email')).toBe('This field is required.');
    expect(form().error('age')).toBeUndefined();
    expect(container.textContent).toBe('name,email,topic,message');

    await act(async () => {
      for (const [k, v] of Object.entries({ ...valid, age: '17', topic: 'other' })) form().setValue(k as keyof Contact & string, v);
      result = await form().submit();
    });
    expect(server.calls).toHaveLength(0);
    expect(form().errors).toEqual({ age: ['Enter a value of at least 18.'], topic: ['Select one of: sales, support.'] });
  });

  it('calls the submit function when the client finds nothing, with the values, and applies its targets', async () => {
    const onSuccess = vi.fn();
    const { server, client, form } = await mount<Contact>(contact, { submit: 'contact', initial: valid, onSuccess });
    const invalidate = vi.spyOn(client, 'invalidate');
    let done: Promise<unknown> | undefined;
    await act(async () => {
      done = form().submit();
    });
    expect(form().isSubmitting).toBe(true);
    expect(server.calls.map((c) => [c.fn, c.args])).toEqual([['contact', valid]]);
    await act(async () => server.calls[0]!.answer({ ok: true }));
    await expect(done).resolves.toEqual({ ok: true });
    expect(form().isSubmitting).toBe(false);
    expect(onSuccess).toHaveBeenCalledWith({ ok: true });
    expect(invalidate).toHaveBeenCalledWith(['messages']);
    expect(form().errors).toEqual({});
  });

  it('puts the fields of an invalid_args answer on their fields, a formset row included', async () => {
    const { server, form } = await mount<OrderLines>(orderLines, {
      submit: 'order_lines',
      initial: { customer: 'Ada', lines: [{ sku: 'ABC123', qty: 2 }] },
    });
    let done: Promise<unknown> | undefined;
    await act(async () => {
      done = form().submit();
    });
    const err = new MizanError('invalid_args', 'invalid arguments', 400, {
      customer: 'Unknown customer.',
      'lines.0.sku': 'No such product.',
    });
    await act(async () => server.calls[0]!.fail(err));
    await expect(done).resolves.toBeUndefined();
    expect(form().errors).toEqual({ customer: ['Unknown customer.'], 'lines.0.sku': ['No such product.'] });
    expect(form().error('lines.0.sku')).toBe('No such product.');
    expect(form().submitError).toBe(err);
    expect(form().isSubmitting).toBe(false);

    // Another failure keeps the field errors and is the submitError.
    await act(async () => {
      done = form().submit();
    });
    expect(form().errors).toEqual({});
    const down = new MizanError('unavailable', 'down', 503);
    await act(async () => server.calls[1]!.fail(down));
    await expect(done).resolves.toBeUndefined();
    expect(form().submitError).toBe(down);
  });
});

describe('useForm: validateField', () => {
  it('checks a field at once, without the server when it is not server_only', async () => {
    const { server, form } = await mount<Contact>(contact, { submit: 'contact', validate: 'contact_validate' });
    let got: string[] = [];
    await act(async () => {
      form().setValue('name', 'x'.repeat(101));
      got = await form().validateField('name');
    });
    expect(got).toEqual(['Use at most 100 characters.']);
    expect(form().errors).toEqual({ name: ['Use at most 100 characters.'] });
    await act(async () => {
      form().setValue('name', 'Ada');
      got = await form().validateField('name');
    });
    expect(got).toEqual([]);
    expect(form().errors).toEqual({});
    expect(server.calls).toHaveLength(0);
  });

  it('asks the validate function about a server_only field, debounced, with every value; the latest answer wins', async () => {
    vi.useFakeTimers();
    const { server, form } = await mount<Contact>(contact, {
      submit: 'contact',
      validate: 'contact_validate',
      initial: { name: 'Ada', topic: 'sales' },
      debounceMs: 200,
    });
    const answers: string[][] = [];
    const check = (email: string): void => {
      form().setValue('email', email);
      void form()
        .validateField('email')
        .then((m) => answers.push(m));
    };
    // Three changes within the debounce: one request, for the last value.
    await act(async () => {
      check('a@example.com');
      await vi.advanceTimersByTimeAsync(100);
      check('ab@example.com');
      await vi.advanceTimersByTimeAsync(100);
      check('abc@example.com');
      await vi.advanceTimersByTimeAsync(199);
    });
    expect(server.calls).toHaveLength(0);
    await act(() => vi.advanceTimersByTimeAsync(1));
    expect(server.calls.map((c) => [c.fn, c.args])).toEqual([
      ['contact_validate', { name: 'Ada', topic: 'sales', email: 'abc@example.com' }],
    ]);
    // A newer check while the first is in flight: the first answer is stale.
    await act(async () => {
      check('taken@example.com');
      await vi.advanceTimersByTimeAsync(200);
    });
    expect(server.calls).toHaveLength(2);
    await act(async () => server.calls[1]!.answer({ valid: false, errors: { email: ['This address is taken.'] } }));
    await act(async () => server.calls[0]!.answer({ valid: true, errors: {} }));
    expect(form().errors).toEqual({ email: ['This address is taken.'] });
    expect(answers).toEqual([
      ['This address is taken.'],
      ['This address is taken.'],
      ['This address is taken.'],
      ['This address is taken.'],
    ]);

    // A value the client refuses answers at once and drops the pending check.
    await act(async () => {
      check('fixed@example.com');
      await vi.advanceTimersByTimeAsync(100);
      check('not an address');
    });
    expect(form().errors).toEqual({ email: ['Enter a valid email address.'] });
    expect(answers.slice(4)).toEqual([['Enter a valid email address.'], ['Enter a valid email address.']]);
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(server.calls).toHaveLength(2);
  });

  it('checks a formset row field by its key, and asks the server for a server_only one', async () => {
    vi.useFakeTimers();
    const { server, form } = await mount<OrderLines>(orderLines, {
      submit: 'order_lines',
      validate: 'order_lines_validate',
      initial: { customer: 'Ada', lines: [{ sku: 'ABC123', qty: 1 }] },
    });
    let got: string[] = [];
    await act(async () => {
      form().setValue('lines.0.sku', 'AB');
      got = await form().validateField('lines.0.sku');
    });
    expect(got).toEqual(['Use exactly 6 characters.']);
    let pending: Promise<string[]> | undefined;
    await act(async () => {
      form().setValue('lines.0.qty', '7');
      pending = form().validateField('lines.0.qty');
      await vi.advanceTimersByTimeAsync(300);
    });
    expect(server.calls.map((c) => c.args)).toEqual([{ customer: 'Ada', lines: [{ sku: 'AB', qty: 7 }] }]);
    await act(async () =>
      server.calls[0]!.answer({ valid: false, errors: { 'lines.0.sku': ['x'], 'lines.0.qty': ['Only 5 in stock.'] } }),
    );
    await expect(pending).resolves.toEqual(['Only 5 in stock.']);
    expect(form().errors).toEqual({ 'lines.0.sku': ['Use exactly 6 characters.'], 'lines.0.qty': ['Only 5 in stock.'] });
  });
});

describe('useForm: values', () => {
  it('turns the string of an int input into a number, "" into absent, and keeps other strings', async () => {
    const { form } = await mount<Contact>(contact, { submit: 'contact' });
    await act(async () => form().setValue('age', '42'));
    expect(form().values.age).toBe(42);
    await act(async () => form().setValue('age', ' -7 '));
    expect(form().values.age).toBe(-7);
    await act(async () => form().setValue('age', ''));
    expect(form().values).toHaveProperty('age', undefined);
    expect(await act(() => form().validateField('age'))).toEqual([]);
    await act(async () => form().setValue('age', '4x'));
    expect(form().values.age).toBe('4x');
    expect(await act(() => form().validateField('age'))).toEqual(['Enter a whole number.']);
    await act(async () => form().setValue('age', '4.5'));
    expect(form().values.age).toBe(4.5);
    expect(await act(() => form().validateField('age'))).toEqual(['Enter a whole number.']);
    await act(async () => form().setValue('name', '42'));
    expect(form().values.name).toBe('42');
  });

  it('reset goes back to the initial values, or to the values given, and clears the errors', async () => {
    vi.useFakeTimers();
    const { server, form } = await mount<Contact>(contact, {
      submit: 'contact',
      validate: 'contact_validate',
      initial: { name: 'Ada' },
    });
    let pending: Promise<string[]> | undefined;
    await act(async () => {
      form().setValue('name', '');
      form().setValue('email', 'ada@example.com');
      await form().submit();
      pending = form().validateField('email');
    });
    expect(Object.keys(form().errors)).toEqual(['name', 'topic', 'message']);
    await act(async () => form().reset());
    expect(form().values).toEqual({ name: 'Ada' });
    expect(form().errors).toEqual({});
    await expect(pending).resolves.toEqual([]);
    await act(() => vi.advanceTimersByTimeAsync(1000));
    expect(server.calls).toHaveLength(0); // the pending server check was dropped
    await act(async () => form().reset({ name: 'Grace', topic: 'support' }));
    expect(form().values).toEqual({ name: 'Grace', topic: 'support' });
  });
});

describe('useForm: a server-rendered invalid post', () => {
  it('starts from the errors and values the page was rendered with; fixing a field clears its error; reset clears all', async () => {
    const { server, form } = await mount<Contact>(contact, {
      submit: 'contact',
      validate: 'contact_validate',
      initial: { name: '', topic: 'sales' },
      initialErrors: { name: ['This field is required.'], email: ['This address is taken.'] },
    });
    expect(form().errors).toEqual({ name: ['This field is required.'], email: ['This address is taken.'] });
    expect(form().error('email')).toBe('This address is taken.');
    await act(async () => {
      form().setValue('name', 'Ada');
      await form().validateField('name');
    });
    expect(form().errors).toEqual({ email: ['This address is taken.'] });
    await act(async () => form().reset());
    expect(form().errors).toEqual({});
    expect(form().values).toEqual({ name: '', topic: 'sales' });
    expect(server.calls).toHaveLength(0);
  });
});

describe('useForm: formset', () => {
  it('appends, removes and moves rows; row errors follow their rows', async () => {
    const { server, form } = await mount<OrderLines>(orderLines, { submit: 'order_lines', initial: { customer: 'Ada' } });
    expect(form().formset('lines').rows).toEqual([]);
    await act(async () => {
      await form().submit();
    });
    expect(form().errors).toEqual({ lines: ['This field is required.'] });
    await act(async () => form().formset('lines').append());
    // The set's own error is checked again: one row is enough.
    expect(form().errors).toEqual({});
    await act(async () => {
      form().formset('lines').append({ sku: 'BBBBBB', qty: 2 });
      form().formset('lines').append({ sku: 'C', qty: 3 });
    });
    expect(form().formset('lines').rows).toEqual([{}, { sku: 'BBBBBB', qty: 2 }, { sku: 'C', qty: 3 }]);
    await act(async () => {
      await form().submit();
    });
    expect(form().errors).toEqual({
      'lines.0.sku': ['This field is required.'],
      'lines.0.qty': ['This field is required.'],
      'lines.2.sku': ['Use exactly 6 characters.'],
    });
    // Move the last row first: its error moves with it.
    await act(async () => form().formset('lines').move(2, 0));
    expect(form().formset('lines').rows.map((r) => r.sku)).toEqual(['C', undefined, 'BBBBBB']);
    expect(form().errors).toEqual({
      'lines.0.sku': ['Use exactly 6 characters.'],
      'lines.1.sku': ['This field is required.'],
      'lines.1.qty': ['This field is required.'],
    });
    // Remove the empty row: its errors go, the others stay on their rows.
    await act(async () => form().formset('lines').remove(1));
    expect(form().formset('lines').rows).toEqual([
      { sku: 'C', qty: 3 },
      { sku: 'BBBBBB', qty: 2 },
    ]);
    expect(form().errors).toEqual({ 'lines.0.sku': ['Use exactly 6 characters.'] });
    await act(async () => form().formset('lines').move(0, 1));
    expect(form().errors).toEqual({ 'lines.1.sku': ['Use exactly 6 characters.'] });
    await act(async () => {
      form().setValue('lines.1.sku', 'CCCCCC');
      form().setValue('lines.1.qty', '12');
    });
    expect(form().values.lines).toEqual([
      { sku: 'BBBBBB', qty: 2 },
      { sku: 'CCCCCC', qty: 12 },
    ]);
    await act(async () => {
      void form().submit();
    });
    expect(server.calls.map((c) => c.args)).toEqual([{ customer: 'Ada', lines: form().values.lines }]);
    // A change of the rows checks the set again when it has an error.
    await act(async () => server.calls[0]!.fail(new MizanError('invalid_args', 'bad', 400, { lines: 'Too many.' })));
    expect(form().errors).toEqual({ lines: ['Too many.'] });
    await act(async () => form().formset('lines').remove(0));
    expect(form().errors).toEqual({});
    await act(async () => form().formset('lines').remove(0));
    expect(form().errors).toEqual({});
    await act(async () => {
      await form().submit();
    });
    expect(server.calls).toHaveLength(1);
    expect(form().errors).toEqual({ lines: ['Add at least 1 row.'] });
    await act(async () => form().formset('lines').append({ sku: 'DDDDDD', qty: 1 }));
    expect(form().errors).toEqual({});
  });
});

describe('useForm: optimistic', () => {
  // contact affects context messages; its instance holds the function inbox.
  registerMutationTargets({ contact: [['messages']] });
  type Inbox = { inbox: string[] };

  /** watch mounts the form with the optimistic option and a watched messages instance with data. */
  async function watch() {
    const updater = vi.fn((inbox: string[], values: Contact) => [...inbox, values.message]);
    const m = await mount<Contact>(contact, { submit: 'contact', initial: valid, optimistic: { inbox: updater } });
    m.server.fetchContext = (context: string) => Promise.resolve(context === 'messages' ? { inbox: ['hi'] } : {});
    const inst = m.client.instance<Inbox>('messages');
    const off = inst.subscribe(() => {});
    await flush();
    expect(inst.getSnapshot().data).toEqual({ inbox: ['hi'] });
    return { ...m, updater, inst, off };
  }

  it('applies the updaters to the instances its targets match when the submit is sent, with the values', async () => {
    const { server, form, updater, inst, off } = await watch();
    let done: Promise<unknown> | undefined;
    await act(async () => {
      done = form().submit();
    });
    // Sent, not answered: the instance already shows the change.
    expect(server.named('contact')).toHaveLength(1);
    expect(updater).toHaveBeenCalledWith(['hi'], valid);
    expect(inst.getSnapshot().data).toEqual({ inbox: ['hi', valid.message] });
    // Answered: the targets refetch the instance, whose data replaces the update.
    server.fetchContext = () => Promise.resolve({ inbox: ['hi', 'from the server'] });
    await act(async () => server.calls[0]!.answer({ ok: true }));
    await expect(done).resolves.toEqual({ ok: true });
    await flush();
    expect(inst.getSnapshot().data).toEqual({ inbox: ['hi', 'from the server'] });
    off();
  });

  it('rolls the updaters back when the submit fails, and keeps the error', async () => {
    const { server, form, inst, off } = await watch();
    let done: Promise<unknown> | undefined;
    await act(async () => {
      done = form().submit();
    });
    expect(inst.getSnapshot().data).toEqual({ inbox: ['hi', valid.message] });
    const err = new MizanError('conflict', 'forced', 409);
    await act(async () => server.calls[0]!.fail(err));
    await expect(done).resolves.toBeUndefined();
    expect(inst.getSnapshot().data).toEqual({ inbox: ['hi'] });
    expect(form().submitError).toBe(err);
    off();
  });

  it('sends no call and applies nothing when the client rules fail', async () => {
    const { server, form, updater, inst, off } = await watch();
    await act(async () => form().setValue('name', ''));
    await act(async () => {
      await form().submit();
    });
    expect(server.calls).toHaveLength(0);
    expect(updater).not.toHaveBeenCalled();
    expect(inst.getSnapshot().data).toEqual({ inbox: ['hi'] });
    off();
  });
});

describe('useForm: rendering', () => {
  it('keeps its functions across renders', async () => {
    const { form, renders } = await mount<Contact>(contact, { submit: 'contact' });
    const first = form();
    await act(async () => form().setValue('name', 'Ada'));
    expect(renders()).toBeGreaterThan(1);
    expect(form().setValue).toBe(first.setValue);
    expect(form().submit).toBe(first.submit);
    await flush();
  });
});
