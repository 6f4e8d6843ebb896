import { MizanError, codeForStatus, fromEnvelope, parseJSON } from './errors.js';
import { parseInvalidateHeader } from './header.js';
import { queryString, stringifyParams, type Params, type TargetInput } from './targets.js';

/** The result of a function call: its return value and the targets it invalidated. */
export interface CallResult<R> {
  result: R;
  invalidate: TargetInput[];
}

/**
 * Transport carries the two requests the kernel makes. Implementations
 * throw a MizanError for a failure (code `"network"`, status 0, when no
 * response came) and let an abort through as the signal's reason.
 */
export interface Transport {
  fetchContext(context: string, params: Params, signal?: AbortSignal): Promise<unknown>;
  /**
   * headers, when given, are extra headers of this one request (the HTTP
   * transport sends them; @mizan/base/offline sends `Idempotency-Key`,
   * docs/spec.md §12); a transport without headers may ignore them.
   */
  call(fn: string, args: unknown, signal?: AbortSignal, headers?: Record<string, string>): Promise<CallResult<unknown>>;
  /**
   * Optional, for a transport that pushes invalidations (wsTransport of
   * `@mizan/base/ws`): a client calls it once, with the function that
   * applies pushed targets to its instances.
   */
  connect?(push: (targets: TargetInput[]) => void): void;
  /**
   * Optional: a client calls it when one of its instances gains its first
   * subscriber (on) and when it has lost its last (off), so that a pushing
   * transport subscribes to what is on screen.
   */
  watch?(context: string, params: Record<string, string>, on: boolean): void;
}

/** Options of httpTransport; every field has a useful zero value. */
export interface HttpTransportOptions {
  /** Origin (and path) in front of prefix. Default "": same origin. */
  baseUrl?: string;
  /** Where the Mizan endpoints are mounted. Default "/api/mizan/". */
  prefix?: string;
  /** The fetch to use. Default globalThis.fetch, looked up at each request. */
  fetch?: typeof fetch;
  /** Extra headers for every request, read at each request (e.g. Authorization). */
  headers?: () => Record<string, string>;
  /** Default "same-origin", or "include" when baseUrl is set. */
  credentials?: RequestCredentials;
  /** The header that repeats the CSRF token on call/. Default "X-CSRFToken". */
  csrfHeader?: string;
}

interface Reply {
  body: unknown;
  res: Response;
}

/**
 * httpTransport speaks docs/spec.md §2 over fetch: `GET ctx/<name>/?params`
 * for a context, and `POST call/` for a function, after getting the CSRF
 * token from `GET session/` once (again after a 403). Targets come from the
 * body's `invalidate`, or from the X-Mizan-Invalidate header when the body
 * has none.
 */
export function httpTransport(opts: HttpTransportOptions = {}): Transport {
  const root = (opts.baseUrl ?? '') + (opts.prefix ?? '/api/mizan/');
  const credentials = opts.credentials ?? (opts.baseUrl ? 'include' : 'same-origin');
  let csrf: Promise<string> | undefined;

  async function send(path: string, init: RequestInit): Promise<Reply> {
    const f = opts.fetch ?? globalThis.fetch;
    let res: Response;
    let text: string;
    try {
      res = await f(root + path, {
        ...init,
        credentials,
        headers: { Accept: 'application/json', ...opts.headers?.(), ...(init.headers as Record<string, string>) },
      });
      text = await res.text();
    } catch (e) {
      if (init.signal?.aborted) throw init.signal.reason;
      throw new MizanError('network', e instanceof Error ? e.message : String(e), 0);
    }
    let body: unknown;
    let json = true;
    try {
      body = text ? parseJSON(text, res.status) : undefined;
    } catch (e) {
      if (e instanceof MizanError) throw e;
      json = false;
    }
    if (!res.ok) {
      throw fromEnvelope(body, res.status) ?? new MizanError(codeForStatus(res.status), `HTTP ${res.status}`, res.status);
    }
    if (!json) throw new MizanError('bad_response', 'response is not JSON', res.status);
    return { body, res };
  }

  function token(): Promise<string> {
    csrf ??= send('session/', {}).then(
      (r) => String((r.body as { csrf_token?: unknown } | undefined)?.csrf_token ?? ''),
      (e: unknown) => {
        csrf = undefined;
        throw e;
      },
    );
    return csrf;
  }

  return {
    async fetchContext(context, params, signal) {
      const q = queryString(stringifyParams(params));
      return (await send(`ctx/${encodeURIComponent(context)}/${q ? '?' + q : ''}`, { signal })).body;
    },
    async call(fn, args, signal, headers) {
      headers = { 'Content-Type': 'application/json', [opts.csrfHeader ?? 'X-CSRFToken']: await token(), ...headers };
      let r: Reply;
      try {
        r = await send('call/', { method: 'POST', headers, body: JSON.stringify({ fn, args: args ?? {} }), signal });
      } catch (e) {
        if (e instanceof MizanError && e.status === 403) csrf = undefined;
        throw e;
      }
      const body = (r.body ?? {}) as { result?: unknown; invalidate?: unknown };
      let invalidate: TargetInput[] = [];
      if (Array.isArray(body.invalidate)) {
        invalidate = body.invalidate as TargetInput[];
      } else {
        const h = r.res.headers.get('X-Mizan-Invalidate');
        // The call succeeded: a malformed header must not turn it into a failure.
        try {
          if (h) invalidate = parseInvalidateHeader(h);
        } catch {
          invalidate = [];
        }
      }
      return { result: body.result, invalidate };
    },
  };
}
