// Exercises the react target's output for the forms case the way an app
// would, so that tsc checks the form hooks' call sites as well as their
// declarations. Copied next to the generated files by tsc-check.sh; never run.
import { checkForm, type FormErrors, type FormSchema } from '@mizan/base/forms';
import { contactForm, orderLinesForm, type ContactFormValues, type ContactResult } from './client.js';
import { useContactForm, useOrderLinesForm } from './hooks.js';

export function contactErrors(values: ContactFormValues): FormErrors {
  const schema: FormSchema = contactForm;
  return checkForm(schema, values);
}

export async function useContact(): Promise<string> {
  const form = useContactForm({ initial: { topic: 'sales' }, debounceMs: 100, onSuccess: (r: ContactResult) => void r.ok });
  form.setValue('age', '42');
  form.setValue('email', 'ada@example.com');
  const messages: string[] = await form.validateField('email');
  const first: string | undefined = form.error('email');
  const result: ContactResult | undefined = await form.submit();
  const age: number | null | undefined = typeof form.values.age === 'number' ? form.values.age : undefined;
  form.reset({ name: 'Ada' });
  return `${messages.length} ${first ?? ''} ${result?.ok ?? false} ${age ?? ''} ${form.isSubmitting} ${form.submitError?.code ?? ''}`;
}

export function useOrder(): number {
  const form = useOrderLinesForm();
  const lines = form.formset('lines');
  lines.append({ sku: 'ABC123' });
  lines.move(0, 1);
  lines.remove(0);
  form.setValue('lines.0.qty', 3);
  const sku: string | undefined = lines.rows[0]?.sku;
  return (sku?.length ?? 0) + orderLinesForm.fields.length + Object.keys(form.errors).length;
}

export function wrongCalls(): void {
  const form = useContactForm();
  // @ts-expect-error no field nmae
  form.setValue('nmae', 'x');
  // @ts-expect-error submit and validate are the generated hook's own
  useContactForm({ submit: 'other' });
  // @ts-expect-error contact has no formset lines
  form.formset('lines');
  const order = useOrderLinesForm();
  // @ts-expect-error a row has no field price
  order.formset('lines').append({ price: 1 });
}
