// @mizan/edge: the Mizan edge, a Cloudflare Worker caching context fetches and
// psr pages per caller, purged by the protocol's invalidations
// (docs/spec.md §11). A Worker of your own:
//
//   import { createEdge, MizanFreshness } from '@mizan/edge';
//   import manifest from './mizan-manifest.json';
//   export { MizanFreshness };
//   export default createEdge({ manifest });
export type { EdgeEnv, EdgeOptions } from './edge.js';
export {
  createEdge,
  EDGE_HEADER,
  EDGE_REQUEST_HEADER,
  META_HEADER,
  PURGE_FAILED_HEADER,
  PURGE_PATH,
  MWT_COOKIE,
  MAX_PURGE_BODY,
  MAX_CALL_PEEK,
} from './edge.js';
export { MizanFreshness } from './durable.js';
export type { FreshnessToken, InstanceItem, PurgeItem, CheckItem } from './freshness.js';
export { FreshnessLog, appliesTo, isInstanceItem, freshnessName, REPLAY_OBJECT, DEFAULT_LOG_LIMIT, MAX_LOGGED_PARAMS } from './freshness.js';
export type { MWTClaims } from './mwt.js';
export { verifyMWT, MAX_MWT_LENGTH } from './mwt.js';
export { canonicalKey, contextKey, canonicalPageKey, pageKey, userHash } from './keys.js';
export type { RoutePattern } from './routes.js';
export { parseRoute, matchRoute } from './routes.js';
export type { Manifest, ManifestContext, ManifestMutation, Cacheable } from './manifest.js';
export { parseManifest, EdgeManifest } from './manifest.js';
export { parseBodyTarget, parseBodyTargets, broadTargets, planPurge } from './purge.js';
export type { PurgeAuth, ReplayStorage } from './signature.js';
export { signPurge, verifyPurge, ReplayMemory, replayExpiry, PURGE_MAX_SKEW } from './signature.js';
