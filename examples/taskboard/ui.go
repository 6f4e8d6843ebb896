package main

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path"
	"strings"
)

// uiHandler serves the built React app (the output of vite build) from
// dir, as the Mizan app's Fallback: every request that is not an endpoint
// or a view comes here. A file of dir is served as it is, those under
// assets/ with a long cache lifetime since Vite names them by content hash;
// any other path without a file extension gets index.html, so that the
// app's own routes (/projects/1) load the app. Files are read at request
// time: rebuilding the UI needs no restart. When dir holds no index.html,
// the answer is a page that says how to build it.
func uiHandler(dir string) http.Handler {
	fsys := os.DirFS(dir)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(fsys, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				http.ServeFileFS(w, r, fsys, name)
				return
			}
			if path.Ext(name) != "" {
				http.NotFound(w, r)
				return
			}
		}
		index, err := fs.ReadFile(fsys, "index.html")
		if errors.Is(err, fs.ErrNotExist) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(notBuiltPage))
			return
		}
		if err != nil {
			http.Error(w, "reading the UI: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(index)
	})
}

// notBuiltPage is served in place of the UI when it has not been built.
const notBuiltPage = `<!doctype html>
<meta charset="utf-8"><title>Taskboard: UI not built</title>
<style>body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }</style>
<h1>The UI is not built</h1>
<p>The server is running, but the directory given by <code>-ui</code> has no <code>index.html</code>.
From the root of the repository, run</p>
<pre>bash examples/taskboard/run.sh</pre>
<p>which installs the npm packages, generates the client, builds the UI and starts this server.</p>
<p>The API answers meanwhile: <a href="/api/mizan/ctx/board/">/api/mizan/ctx/board/</a>,
and so does the server-rendered page <a href="/projects/1/print/">/projects/1/print/</a>.</p>
`

// pageErrors wraps the app when the project pages are server-rendered:
// a page of a project that does not exist (or a malformed id) makes the
// page route fail with the JSON error envelope (404, 400), which a browser
// would show as it is, and so does a form's page (/projects/N/tasks/new
// and /tasks/edit) for those, or for an anonymous visitor (401). For
// those, it answers with index.html under the same status instead, and the
// UI renders its own message (or the sign-in hint). Every other request
// goes to the app untouched.
func pageErrors(app http.Handler, dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/projects/")
		id, sub, _ := strings.Cut(rest, "/")
		page := sub == "" || sub == "tasks/new" || sub == "tasks/edit" // the project's page, or a form's (forms.go)
		if !ok || id == "" || !page || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			app.ServeHTTP(w, r)
			return
		}
		rec := &recorder{header: http.Header{}}
		app.ServeHTTP(rec, r)
		if rec.status >= 400 && strings.HasPrefix(rec.header.Get("Content-Type"), "application/json") {
			if index, err := os.ReadFile(path.Join(dir, "index.html")); err == nil {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.Header().Set("Cache-Control", "no-cache")
				w.WriteHeader(rec.status)
				w.Write(index)
				return
			}
		}
		maps.Copy(w.Header(), rec.header)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
	})
}

// recorder keeps a response in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
