import { parseJSON } from './errors.js';

/**
 * readInitialData returns the JSON that a server-rendered page embeds in
 * `<script type="application/json" id="…">`, or {} when the page has no such
 * element (or there is no document). Mizan's Go package ssr writes the
 * context bundles a page was rendered from under the id `mizan-data`, keyed
 * by instanceKey: pass the result as ClientOptions.initialData and those
 * instances start without a fetch. The page's props are under `mizan-props`.
 * Malformed JSON throws, and so does an integer a number cannot hold
 * exactly (MizanError `bad_response`, see parseJSON).
 */
export function readInitialData(id = 'mizan-data'): Record<string, unknown> {
  const text = typeof document === 'undefined' ? null : document.getElementById(id)?.textContent;
  return text ? (parseJSON(text) as Record<string, unknown>) : {};
}
