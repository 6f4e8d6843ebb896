// The wire log: a Transport that wraps the HTTP one and records every
// context fetch and every call with the targets it invalidated, so that the
// page can show what a mutation made the client refetch.
import type { Params, TargetInput, Transport } from '@mizan/base';
import { useSyncExternalStore } from 'react';

/** One line of the wire log. */
export interface WireEvent {
  id: number;
  kind: 'fetch' | 'call' | 'push' | 'error';
  text: string;
  detail?: string;
}

const maxEvents = 12;
let events: readonly WireEvent[] = [];
let nextId = 1;
const listeners = new Set<() => void>();

function push(e: Omit<WireEvent, 'id'>): void {
  events = [{ ...e, id: nextId++ }, ...events].slice(0, maxEvents);
  for (const l of listeners) l();
}

function paramText(params: Record<string, unknown> | undefined): string {
  if (!params) return '';
  return Object.keys(params)
    .sort()
    .filter((k) => params[k] !== undefined)
    .map((k) => `;${k}=${String(params[k])}`)
    .join('');
}

/** targetText writes a target as the X-Mizan-Invalidate header would, naming the function of a function-level one. */
export function targetText(t: TargetInput): string {
  if (typeof t === 'string') return t;
  const scope = t.context + paramText(t.params);
  return t.function ? `${t.function} of ${scope}` : scope;
}

/** wireLog returns a transport that records what inner does, pushed invalidations included. */
export function wireLog(inner: Transport): Transport {
  return {
    connect(apply) {
      inner.connect?.((targets) => {
        push({ kind: 'push', text: 'pushed by the server', detail: `invalidates ${targets.map(targetText).join(', ')}` });
        apply(targets);
      });
    },
    watch(context, params, on) {
      inner.watch?.(context, params, on);
    },
    async fetchContext(context: string, params: Params, signal?: AbortSignal) {
      const text = `GET ctx/${context}/ ${paramText(params).slice(1).replaceAll(';', ' ')}`.trim();
      try {
        const bundle = await inner.fetchContext(context, params, signal);
        push({ kind: 'fetch', text });
        return bundle;
      } catch (err) {
        if (!signal?.aborted) push({ kind: 'error', text, detail: err instanceof Error ? err.message : String(err) });
        throw err;
      }
    },
    async call(fn: string, args: unknown, signal?: AbortSignal, headers?: Record<string, string>) {
      try {
        const res = await inner.call(fn, args, signal, headers);
        const targets = res.invalidate.map(targetText).join(', ');
        push({ kind: 'call', text: `call ${fn}`, detail: targets ? `invalidates ${targets}` : 'invalidates nothing' });
        return res;
      } catch (err) {
        push({ kind: 'error', text: `call ${fn}`, detail: err instanceof Error ? err.message : String(err) });
        throw err;
      }
    },
  };
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function snapshot(): readonly WireEvent[] {
  return events;
}

/** useWireLog returns the latest events, newest first. */
export function useWireLog(): readonly WireEvent[] {
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}
