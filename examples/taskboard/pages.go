package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/ssr"
)

// Server-side rendering (docs/ssr.md). The UI's main pages are rendered on
// the server by package ssr, from page components in web/src/pages/ that
// render the same React App as the browser, and embed every context
// instance they read: those of their route's contexts, and those the
// renderer collects while rendering. The sidebar's progress bars read one
// project instance per project, which no route names: ssr renders the
// page, sees which instances its hooks read that it was not given,
// fetches them (as the caller the page is rendered for) and renders again.
// The browser's entry (web/src/main.tsx) hydrates the page with those
// bundles, so it loads without a single ctx/ request (the browser test
// checks it on every page).
//
// Every page's contexts are psr (no user-scoped parameter) and unguarded,
// so for anonymous visitors the pages are pre-rendered: rendered ahead (or
// on their first request), served from a cache without running a function
// (X-Mizan-Render: psr-hit), and re-rendered in the background when a
// mutation's targets hit any instance they embed, collected ones included
// (add_task to project 1 re-renders every page: every sidebar shows
// project 1's progress). The browser signs in with JWTs kept by the page's
// script (web/src/session.ts), never a cookie, so a page request carries
// no credential: every visitor, signed in or not, gets the pre-rendered
// anonymous page. It hydrates as it is; then, if the tab holds a refresh
// token, the script gets an access token, the kernel's sign-in client
// invalidates the global context (current_user), which is refetched with
// it, and the header shows the user. Signed in, that is the one context a
// page fetches on load, with, on /team, the guarded directory below.
//
// A guarded context cannot be part of such a page: the page is rendered as
// an anonymous caller, whom the guard refuses (a route with a guarded
// context is not pre-rendered, and a guarded context a component reads is
// not collected into an anonymous page, docs/ssr.md). So the team page
// (/team) embeds the public team (board: names only); the email addresses
// and staff flags of the guarded directory context are fetched by the
// browser once it is signed in, and shown then (web/src/people.tsx).
//
// Pages a route does not list (a task's panel, /projects/1/tasks/3, whose
// comment times depend on the clock) are rendered in the browser from
// index.html, as is every page when SSR is off.

// pageTitle is the title of every server-rendered page.
const pageTitle = "Taskboard · Mizan example"

// favicon is the icon link of index.html, repeated in the rendered pages.
const favicon = `<link rel="icon" href="data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><rect width='16' height='16' rx='3' fill='%236d5bd0'/><path d='M4 4h3v8H4zM9 4h3v5H9z' fill='white'/></svg>">`

// ssrConfig is what the page routes need: the renderer and the built UI's
// entry script and stylesheets.
type ssrConfig struct {
	renderer *ssr.Renderer
	scripts  []string
	head     template.HTML
}

// viteManifest is the part of Vite's build manifest (.vite/manifest.json,
// build.manifest in vite.config.ts) that names the entry's hashed assets.
type viteManifest map[string]struct {
	File    string   `json:"file"`
	CSS     []string `json:"css"`
	IsEntry bool     `json:"isEntry"`
}

// loadAssets reads the built UI's manifest and returns the entry's module
// script and the head markup that links its stylesheets.
func loadAssets(uiDir string) ([]string, template.HTML, error) {
	b, err := os.ReadFile(filepath.Join(uiDir, ".vite", "manifest.json"))
	if err != nil {
		return nil, "", fmt.Errorf("reading the UI's build manifest: %w (build the UI: bash examples/taskboard/run.sh)", err)
	}
	var m viteManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, "", fmt.Errorf("reading the UI's build manifest: %w", err)
	}
	entry, ok := m["index.html"]
	if !ok || entry.File == "" {
		return nil, "", errors.New("the UI's build manifest has no entry index.html")
	}
	head := favicon
	for _, css := range entry.CSS {
		head += `<link rel="stylesheet" href="` + template.HTMLEscapeString(path.Join("/", css)) + `">`
	}
	return []string{path.Join("/", entry.File)}, template.HTML(head), nil
}

// newSSR starts the renderer of the page components in pagesDir, for the
// UI built in uiDir. Its workers start on pages.Start.
func newSSR(pagesDir, uiDir string) (*ssrConfig, error) {
	scripts, head, err := loadAssets(uiDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(pagesDir, "..", "..", "node_modules", "react")); err != nil {
		return nil, fmt.Errorf("the UI's npm packages are not installed (npm ci in %s)", filepath.Clean(filepath.Join(pagesDir, "..", "..")))
	}
	r, err := ssr.New(ssr.Config{Dirs: []string{pagesDir}, Bun: ssr.BunFromEnv()})
	if err != nil {
		return nil, err
	}
	return &ssrConfig{renderer: r, scripts: scripts, head: head}, nil
}

// registerPages registers the server-rendered page routes on app (before
// its Build). Their paths are the UI router's (web/src/router.tsx).
func (s *store) registerPages(app *mizan.App, cfg *ssrConfig, logger *slog.Logger) (*ssr.Pages, error) {
	pages, err := ssr.NewPages(app, cfg.renderer, ssr.PagesConfig{
		Scripts: cfg.scripts, Head: cfg.head, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	// The home page lists the projects: the board context (and global, for
	// the header). Each project's card and sidebar entry reads that
	// project's instance, collected while rendering (as on every page).
	pages.Handle(ssr.Route{Pattern: "/", Component: "Home.tsx", Title: pageTitle,
		Contexts: []mizan.Context{BoardContext, mizan.Global}})
	pages.Handle(ssr.Route{Pattern: "/team", Component: "Team.tsx", Title: pageTitle,
		Contexts: []mizan.Context{BoardContext, mizan.Global}})
	// The sign-in page lists the demo accounts (demo), with the team's
	// names (board).
	pages.Handle(ssr.Route{Pattern: "/signin", Component: "SignIn.tsx", Title: pageTitle,
		Contexts: []mizan.Context{BoardContext, DemoContext, mizan.Global}})
	// A project's page: its own context instance (project_id from the
	// path), and the board for the sidebar (whose other projects'
	// instances are collected). Every project is rendered ahead.
	pages.Handle(ssr.Route{Pattern: "/projects/{project_id}", Component: "Project.tsx", Title: pageTitle,
		Contexts:  []mizan.Context{ProjectContext, BoardContext, mizan.Global},
		Prerender: s.projectPages})
	return pages, nil
}

// projectPages lists the path values of every project's page.
func (s *store) projectPages(ctx context.Context) ([]map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id FROM projects ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []map[string]string
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, map[string]string{"project_id": strconv.Itoa(id)})
	}
	return out, rows.Err()
}
