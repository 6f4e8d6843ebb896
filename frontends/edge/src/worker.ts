// The Worker entry (wrangler.example.toml's `main`, and what `mizan-edge dev`
// bundles): the edge reading its manifest from env.MIZAN_MANIFEST, and the
// Durable Object class it binds as MIZAN_FRESHNESS.
import { createEdge } from './edge.js';

export { MizanFreshness } from './durable.js';

export default createEdge();
