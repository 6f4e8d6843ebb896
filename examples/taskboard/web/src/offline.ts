// The taskboard's offline queue (docs/client.md, "Offline queue"): main.tsx
// installs it on the client with enableOffline, over auth.transport, so a
// replayed call goes through auth as any other does (it waits for a
// reload's refresh exchange and carries the access token). A change made
// while offline, or failing with a network error, shows at once
// (optimistic) and is kept in IndexedDB ("taskboard"), so a reload keeps
// it; it is replayed, in order and with the same idempotency key, when the
// browser is back online. The header shows the state (useOffline) and any
// change the server refused on replay (useRefusals).
import type { MizanError } from '@mizan/base';
import type { OfflineController, QueuedCall } from '@mizan/base/offline';
import { useSyncExternalStore } from 'react';

/** What the header shows: whether the browser is online and how many changes wait. */
export interface OfflineState {
  online: boolean;
  pending: number;
}

/** A replayed change the server refused. */
export interface Refusal {
  key: string;
  fn: string;
  message: string;
}

// A server render (and the hydration that follows) has no queue: online, nothing pending.
const initial: OfflineState = { online: true, pending: 0 };
let controller: OfflineController | undefined;
let state = initial;
let refusals: readonly Refusal[] = [];
const listeners = new Set<() => void>();
const emit = (): void => {
  for (const f of [...listeners]) f();
};

/** installController installs controller (main.tsx) as the one the header shows. */
export function installController(c: OfflineController): void {
  controller = c;
  const read = (): void => {
    const next = { online: c.online(), pending: c.pending().length };
    if (next.online !== state.online || next.pending !== state.pending) {
      state = next;
      emit();
    }
  };
  c.subscribe(read);
  read();
}

/** onRefused is the queue's onError: a replayed call the server refused. */
export function onRefused(call: QueuedCall, err: MizanError): void {
  refusals = [...refusals, { key: call.key, fn: call.fn, message: err.message }];
  emit();
}

/** dismiss forgets the refusal with key. */
export function dismiss(key: string): void {
  refusals = refusals.filter((r) => r.key !== key);
  emit();
}

/** syncNow replays the queue now rather than at the next retry. */
export function syncNow(): void {
  void controller?.flush();
}

const subscribe = (f: () => void): (() => void) => {
  listeners.add(f);
  return () => void listeners.delete(f);
};

/** useOffline returns whether the browser is online and how many changes are queued. */
export function useOffline(): OfflineState {
  return useSyncExternalStore(subscribe, () => state, () => initial);
}

const none: readonly Refusal[] = [];

/** useRefusals returns the replayed changes the server refused, not dismissed yet. */
export function useRefusals(): readonly Refusal[] {
  return useSyncExternalStore(subscribe, () => refusals, () => none);
}
