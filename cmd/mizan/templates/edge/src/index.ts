// The Mizan edge of this app (docs/spec.md §11), driven by the app's edge
// manifest. Written by "mizan edge init"; refresh the manifest when the
// app's functions change:
//
//   mizan manifest --cmd 'go run .' --out edge/mizan-manifest.json
import { createEdge, MizanFreshness } from '@mizan/edge';
import manifest from '../mizan-manifest.json' with { type: 'json' };

export { MizanFreshness };
export default createEdge({ manifest });
