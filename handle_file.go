package mizan

import (
	"fmt"
	"net/http"
	"strings"
)

// HandleFile serves h at exactly the prefix followed by name, a file-like
// last segment such as "openapi.json" (package openapi serves
// /api/mizan/openapi.json with it), for every method; h answers the request
// as it likes. It is [App.Handle] for a path without a trailing slash.
//
// name is one segment of ASCII letters, digits, '_', '-' and '.' holding a
// '.' that is neither first nor last (so it never names a directory such
// as ws/, nor "." or ".."). HandleFile refuses a nil handler and a call after [App.Build]; two handlers on one
// name are reported by Build.
func (a *App) HandleFile(name string, h http.Handler) error {
	if h == nil {
		return fmt.Errorf("mizan: HandleFile %q: nil handler", name)
	}
	dot := strings.Index(name, ".")
	if !validName(name) || dot <= 0 || strings.HasSuffix(name, ".") {
		return fmt.Errorf("mizan: HandleFile %q: the name must be one segment of letters, digits, '_', '-' and '.', with a '.' inside it (openapi.json)", name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.built {
		return fmt.Errorf("mizan: HandleFile %q: the app is already built; add endpoints before Build", name)
	}
	a.extra = append(a.extra, extraEndpoint{path: name, h: h})
	return nil
}
