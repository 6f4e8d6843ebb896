// Package ssr renders React components on the server, in Bun worker
// processes, and serves pages that hydrate in the browser and, for contexts
// whose data is the same for every caller, pages rendered ahead of requests
// and re-rendered when a mutation changes their data (PSR).
//
// # The bridge
//
// A [Renderer] keeps a pool of worker processes (frontends/ssr/worker.tsx
// run by Bun), started on first use. They speak newline-delimited JSON over
// stdin and stdout; each request carries an id, so many goroutines render at
// once with several requests in flight on each worker. A render has a
// timeout; a worker that dies is restarted, and the renders it had are
// sent once more, to another worker or its replacement, within that
// timeout ([ErrWorkerDied] when the retry fails too). Templates are .tsx or .jsx files
// named relative to [Config.Dirs]; a name that escapes them is refused.
//
//	r, err := ssr.New(ssr.Config{Dirs: []string{"web/pages"}})
//	html, err := r.Render(ctx, "Hello.tsx", map[string]any{"name": "Ada"})
//	defer r.Close(context.Background())
//
// # Pages and hydration
//
// [Renderer.RenderDocument] renders a whole HTML document that embeds the
// context bundles its component was rendered from ([Data], keyed like the
// @mizan/base kernel's instances) in a JSON script; the client reads them
// with readInitialData() into ClientOptions.initialData and starts without
// fetching them again. With [Document.Fetch] ([Renderer.RenderPage]), the
// page embeds every context instance its component reads on its first
// render, not only those it was given: the worker reports the instance
// keys the component looked up, and the instances it lacked are fetched
// and the component rendered again, a bounded number of times.
//
// # PSR
//
// [Pages] registers page routes on a Mizan app. A page whose contexts all
// have the render strategy psr ([mizan.RenderPSR]) is rendered ahead,
// stored in the cache, served from there without running the context's
// functions, and re-rendered after a mutation's targets hit any instance
// it embeds (its route's, and those its component read); other pages are
// rendered per request. Every page embeds what its component reads,
// fetched as the caller it is rendered for (a guarded context is never
// embedded in an anonymous page). See docs/ssr.md.
package ssr
