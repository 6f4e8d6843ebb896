package openapi

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/mizan-afi/mizan"
)

// Path is the name, under the app's prefix, at which [Mount] serves the
// document: /api/mizan/openapi.json.
const Path = "openapi.json"

// Mount serves the app's OpenAPI document at <prefix>openapi.json (GET and
// HEAD; other methods are 405 method_not_allowed), built from the app's IR
// on the first request, after the app is built. opts.Prefix defaults to the
// app's prefix. Call it before the app is built, like [mizan.App.Handle].
func Mount(app *mizan.App, opts Options) error {
	if opts.Prefix == "" {
		opts.Prefix = app.Prefix()
	}
	var (
		once sync.Once
		doc  []byte
		err  error
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			app.WriteError(w, r, mizan.NewError(mizan.CodeMethodNotAllowed, "method "+r.Method+" is not allowed here; use GET, HEAD"))
			return
		}
		once.Do(func() {
			d, ierr := app.IR()
			if ierr != nil {
				err = fmt.Errorf("openapi: the app's IR: %w", ierr)
				return
			}
			doc, err = Generate(d, opts)
		})
		if err != nil {
			app.WriteError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	})
	if err := app.HandleFile(Path, h); err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	return nil
}
