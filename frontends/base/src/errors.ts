/**
 * MizanError is the error envelope `{"error": {code, message, fields?}}`
 * (docs/spec.md §5) as an exception. Failures that never reached a server
 * response have code `"network"` and status 0.
 */
export class MizanError extends Error {
  /** The error code: `"invalid_args"`, `"not_found"`, `"network"`, ... */
  readonly code: string;
  /** The HTTP status, 0 when there was no response. */
  readonly status: number;
  /**
   * Per-argument (or form field) messages, where they apply; absent (not an
   * own property) otherwise. Declared only, so that no class field defines
   * it as undefined.
   */
  declare readonly fields?: Record<string, string>;

  constructor(code: string, message: string, status = 0, fields?: Record<string, string>) {
    super(message);
    this.name = 'MizanError';
    this.code = code;
    this.status = status;
    if (fields) this.fields = fields;
  }
}

/** The codes given to a non-2xx response without a JSON error envelope. */
const statusCodes: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  502: 'unavailable',
  503: 'unavailable',
  504: 'unavailable',
};

/** codeForStatus names the error of a response that carried no envelope. */
export function codeForStatus(status: number): string {
  return statusCodes[status] ?? (status >= 500 ? 'internal' : 'bad_request');
}

/**
 * fromEnvelope returns the MizanError of a body that is an error envelope
 * `{"error": {code, message?, fields?}}` whose code is a string, with the
 * given status. For any other body it returns one with code fallback, when
 * given, and undefined otherwise. Internal: shared by the transports.
 */
export function fromEnvelope(body: unknown, status: number, fallback?: string): MizanError | undefined {
  const e = ((body as { error?: unknown } | null | undefined)?.error ?? {}) as {
    code?: unknown;
    message?: unknown;
    fields?: Record<string, string>;
  };
  const code = typeof e.code === 'string' ? e.code : fallback;
  return code === undefined ? undefined : new MizanError(code, String(e.message ?? code), status, e.fields ?? undefined);
}

/**
 * toMizanError returns e itself when it is a MizanError and wraps anything
 * else a transport threw as code `"unknown"`.
 */
export function toMizanError(e: unknown): MizanError {
  return e instanceof MizanError ? e : new MizanError('unknown', e instanceof Error ? e.message : String(e));
}

/** retryable reports whether a failed read is worth trying again. */
export function retryable(e: MizanError): boolean {
  return e.code === 'network' || e.code === 'unavailable';
}

/**
 * parseJSON is JSON.parse for what a server sends, refusing (with a
 * MizanError `bad_response`) a text holding an integer that a number cannot
 * hold exactly — one whose digits a number would not give back, beyond
 * ±(2^53−1) — instead of silently rounding it (docs/spec.md §13.3). Tag
 * such a Go field `json:",string"`. Only a text with 16 digits in a row is
 * looked at closely; the error's message is `unsafe integer <digits>`. Internal: shared by the transports and hydration.
 */
export function parseJSON(text: string, status = 0): unknown {
  for (const [t] of /\d{16}/.test(text) ? text.matchAll(/"(?:[^"\\]|\\.)*"|-?\d{16,}(?![.eE\d])/g) : [])
    if (t[0] != '"' && String(+t) != t) throw new MizanError('bad_response', 'unsafe integer ' + t, status);
  return JSON.parse(text);
}
