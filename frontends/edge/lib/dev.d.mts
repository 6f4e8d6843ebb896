import type { Readable } from 'node:stream';
import type { Miniflare, MiniflareOptions } from 'miniflare';

/** The compatibility date the edge is written for. */
export declare const COMPATIBILITY_DATE: string;
/** The name of the worker hosting the Durable Object class. */
export declare const FRESHNESS_WORKER: string;
/** The environment variables holding the edge's secrets. */
export declare const SECRET_ENV: readonly ['MIZAN_MWT_SECRET', 'MIZAN_EDGE_KEY_SECRET', 'MIZAN_EDGE_PURGE_SECRET'];

/** The edge's three secrets. */
export interface EdgeSecrets {
  /** MIZAN_MWT_SECRET */
  mwt: string;
  /** MIZAN_EDGE_KEY_SECRET */
  key: string;
  /** MIZAN_EDGE_PURGE_SECRET */
  purge: string;
}

/** What {@link edgeOptions} builds the Miniflare options from. */
export interface EdgeTopology {
  /** The bundled worker (bundleWorker()). */
  script: string;
  /** The origin's base URL. */
  origin: string;
  /** The manifest, JSON text. */
  manifest: string;
  /** The secrets. */
  secrets: EdgeSecrets;
  /** How many locations (default 1); location i has cache loc<i> and port port+i. */
  locations?: number;
  /** The host the locations listen on (default 127.0.0.1). */
  host?: string;
  /** The port of location 0 (default 0: every location on a random port). */
  port?: number;
  /** MIZAN_EDGE_DEFAULT_TTL, seconds. */
  defaultTtl?: number;
  /** MIZAN_PREFIX. */
  prefix?: string;
  /** MIZAN_SESSION_COOKIE. */
  sessionCookie?: string;
  /** Receives workerd's stdout and stderr (default: both to process.stderr). */
  stdio?: (stdout: Readable, stderr: Readable) => void;
}

/** A running edge. */
export interface RunningEdge {
  /** The Miniflare instance. */
  mf: Miniflare;
  /** Location i's URL, with the host as configured. */
  urls: URL[];
  /** Location i's URL as Miniflare reports it (a host one can connect to). */
  directURLs: URL[];
  /** Stops workerd. */
  dispose(): Promise<void>;
}

/** The worker's entry module: src/worker.ts in a checkout, else dist/worker.js. */
export declare function workerEntry(): string;
/** Bundles the edge Worker into one ES module. */
export declare function bundleWorker(entry?: string): Promise<string>;
/** Reads the three secrets from env, or throws naming the missing ones. */
export declare function secretsFromEnv(env?: Record<string, string | undefined>): EdgeSecrets;
/** Builds the Miniflare options of the local topology. */
export declare function edgeOptions(o: EdgeTopology): MiniflareOptions;
/** Bundles (unless script is given), starts workerd, waits for every location. */
export declare function startEdge(o: Omit<EdgeTopology, 'script'> & { script?: string }): Promise<RunningEdge>;
