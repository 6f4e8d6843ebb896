// For docs/ssr.md: r is the renderer there, not a request.
package doccheck

import "github.com/mizan-afi/mizan/ssr"

var r *ssr.Renderer
