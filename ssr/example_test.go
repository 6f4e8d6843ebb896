package ssr_test

import (
	"context"
	"log"
	"net/http"

	"github.com/mizan-afi/mizan"
	"github.com/mizan-afi/mizan/ssr"
)

// Pages of an app: /projects/{project_id}/ is rendered ahead, served from
// the cache, and re-rendered when a mutation changes its project.
func ExampleNewPages() {
	const Project mizan.Context = "project"
	app := mizan.New(mizan.Config{})
	mizan.Query(app, func(_ context.Context, in struct {
		ProjectID int `json:"project_id"`
	}) (string, error) {
		return "Apollo", nil
	}, mizan.In(Project), mizan.Name("project_name"))

	r, err := ssr.New(ssr.Config{Dirs: []string{"web/pages"}})
	if err != nil {
		log.Fatal(err)
	}
	pages, err := ssr.NewPages(app, r, ssr.PagesConfig{Scripts: []string{"/assets/entry.js"}})
	if err != nil {
		log.Fatal(err)
	}
	pages.Handle(ssr.Route{
		Pattern: "/projects/{project_id}/", Component: "Project.tsx",
		Contexts: []mizan.Context{Project}, Title: "Project",
		Prerender: func(context.Context) ([]map[string]string, error) {
			return []map[string]string{{"project_id": "1"}}, nil
		},
	})
	if err := app.Build(); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := pages.Start(ctx); err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: app}
	srv.RegisterOnShutdown(func() {
		_ = pages.Close(ctx)
		_ = r.Close(ctx)
	})
	log.Fatal(srv.ListenAndServe())
}

// A view that renders its own document with the bundles it used.
func ExampleRenderer_RenderDocument() {
	app := mizan.New(mizan.Config{})
	r, err := ssr.New(ssr.Config{Dirs: []string{"web/pages"}})
	if err != nil {
		log.Fatal(err)
	}
	mizan.View(app, func(ctx context.Context, in struct {
		UserID int `json:"user_id"`
	}) (http.Handler, error) {
		params := map[string]string{"user_id": "1"}
		bundle, err := app.Fetch(ctx, "account", params) // as the view's caller
		if err != nil {
			return nil, err
		}
		data := ssr.Data{}
		data.Add("account", params, bundle)
		html, err := r.RenderDocument(ctx, ssr.Document{
			Component: "Account.tsx", Props: map[string]any{"params": params}, Data: data,
			Title: "Account", Scripts: []string{"/assets/entry.js"},
		})
		if err != nil {
			return nil, err
		}
		return mizan.HTML(http.StatusOK, string(html)), nil
	}, mizan.Route("/account/{user_id}/"), mizan.Name("account_page"))
}
