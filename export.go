package mizan

// This file exports the built app for tools: its IR, which the client
// generators read (docs/ir.md), and its edge manifest (docs/manifest.md).

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/mizan-afi/mizan/ir"
	"github.com/mizan-afi/mizan/manifest"
)

// EnvWriteIR is the environment variable [App.WriteIRFromEnv] reads: when it
// names a file, the app writes its IR there and exits instead of serving.
// "mizan generate --cmd" sets it when it runs a program.
const EnvWriteIR = ir.EnvWriteIR

// IR returns the intermediate representation of the app that the client
// generators read (package ir, docs/ir.md): every non-private function, and
// every named type reachable from their arguments and results. Views are
// included, with their routes and no result; generated clients leave them
// out, since they answer with pages and redirects rather than data. The same
// app always gives an equal document. IR builds the app if needed.
func (a *App) IR() (*ir.Document, error) {
	metas, err := a.Functions()
	if err != nil {
		return nil, err
	}
	specs := make([]ir.FunctionSpec, 0, len(metas))
	for _, m := range metas {
		if m.Private {
			continue
		}
		var filters map[string]bool
		if cp := a.plan.contexts[m.Context]; cp != nil {
			filters = cp.filters
		}
		specs = append(specs, irSpec(m, filters))
	}
	enums := make(map[reflect.Type][]string, len(a.plan.enums))
	for t, e := range a.plan.enums {
		enums[t] = e.values
	}
	var forms []ir.FormDef
	for _, f := range a.plan.sorted {
		if f.form != nil && f.form.submit == f && !f.meta.Private {
			forms = append(forms, f.form.schema)
		}
	}
	doc, err := ir.Build(specs, ir.Options{Prefix: a.Prefix(), Enums: enums, Forms: forms})
	if err != nil {
		return nil, fmt.Errorf("mizan: exporting the IR: %w", err)
	}
	return doc, nil
}

// irSpec describes a function for ir.Build. filters are the filter
// parameters of the function's context (contextPlan.filters, nil for a
// function in none): a parameter is a filter of the whole context when any
// of its functions tags it, so the IR marks it on every function of the
// context that takes it.
func irSpec(m Meta, filters map[string]bool) ir.FunctionSpec {
	s := ir.FunctionSpec{
		Name: m.Name, Kind: string(m.Kind), Context: m.Context, View: m.ViewPath,
		Route: m.Route, Methods: m.Methods, WebSocket: m.WebSocket, Auth: m.Auth,
		Rev: m.Rev, Shared: m.Shared, Form: ir.Form{Name: m.Form.Name, Role: string(m.Form.Role)},
		Scope: m.Scope, HasScope: m.HasScope,
		Params: []ir.ParamSpec{}, Args: m.Args, Result: m.Result,
	}
	if m.Cache.Set {
		s.Cache = ir.Cache{Off: m.Cache.Off, TTL: m.Cache.TTL}
		if m.Cache.Off {
			s.Cache.TTL = 0
		}
	}
	for _, p := range m.Params {
		s.Params = append(s.Params, ir.ParamSpec{Name: p.Name, Type: p.Type, Optional: p.Optional,
			Filter: m.Context != "" && (p.Filter || filters[p.Name])})
	}
	for _, af := range m.Affects {
		s.Affects = append(s.Affects, ir.Affect{Context: af.Context, Function: af.Function, ScopedBy: af.ScopedBy,
			CallerScoped: af.CallerScoped})
	}
	return s
}

// WriteIR writes the app's IR ([App.IR]) to w as KDL.
func (a *App) WriteIR(w io.Writer) error {
	doc, err := a.IR()
	if err != nil {
		return err
	}
	b, err := ir.Encode(doc)
	if err != nil {
		return fmt.Errorf("mizan: encoding the IR: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("mizan: writing the IR: %w", err)
	}
	return nil
}

// WriteIRFromEnv lets "mizan generate --cmd" get the IR out of a program.
// Call it in main once every function is registered, before serving: when
// the environment variable MIZAN_WRITE_IR ([EnvWriteIR]) names a file, it
// writes the app's IR there and exits the process with status 0 (status 1,
// with the error on standard error, when that fails). Otherwise it returns
// at once and the program goes on.
//
//	app := newApp()
//	app.WriteIRFromEnv()
//	log.Fatal(mizan.ListenAndServe(context.Background(), ":8080", app, mizan.ServerOptions{}))
func (a *App) WriteIRFromEnv() {
	if code, done := a.writeIRFromEnv(os.Getenv(EnvWriteIR), os.Stderr); done {
		os.Exit(code)
	}
}

// writeIRFromEnv writes the IR to path, when set, and reports the exit code.
func (a *App) writeIRFromEnv(path string, stderr io.Writer) (code int, done bool) {
	return writeFromEnv(path, stderr, a.WriteIRFile)
}

// WriteIRFile writes the app's IR to the file path, replacing it.
func (a *App) WriteIRFile(path string) error {
	return writeFile(path, "the IR", a.WriteIR)
}

// writeFromEnv serves the Write*FromEnv methods: when path is set it writes
// the file with writeFile and reports the exit code, the error going to
// stderr; done is false when path is empty.
func writeFromEnv(path string, stderr io.Writer, writeFile func(string) error) (code int, done bool) {
	if path == "" {
		return 0, false
	}
	if err := writeFile(path); err != nil {
		fmt.Fprintln(stderr, err)
		return 1, true
	}
	return 0, true
}

// writeFile writes what write produces to the file path, replacing it only
// once write has succeeded; what names it in errors.
func writeFile(path, what string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("mizan: writing %s: %w", what, err)
	}
	return nil
}

// EnvWriteManifest is the environment variable [App.WriteManifestFromEnv]
// reads: when it names a file, the app writes its edge manifest there and
// exits instead of serving. "mizan manifest --cmd" sets it when it runs a
// program.
const EnvWriteManifest = manifest.EnvWrite

// Manifest returns the app's edge manifest (package manifest,
// docs/manifest.md): every context with its functions, endpoint,
// parameters, filters, user scoping, render strategy and page routes, and
// every mutation with what it affects, the arguments that scope it and the
// contexts whose targets narrow to the caller. The same app always gives an
// equal manifest. It builds the app if needed.
func (a *App) Manifest() (*manifest.Manifest, error) {
	if err := a.Build(); err != nil {
		return nil, err
	}
	p := a.plan
	m := &manifest.Manifest{Contexts: map[string]manifest.Context{}, Mutations: map[string]manifest.Mutation{}}
	for name, cp := range p.contexts {
		mc := manifest.Context{
			Functions:  []manifest.Function{},
			Endpoints:  []string{},
			Params:     append([]string{}, slices.Sorted(maps.Keys(cp.params))...),
			Filters:    []string{},
			PageRoutes: []string{},
			Shared:     cp.shared,
			Rev:        cp.rev,
			CacheTTL:   int(a.ttl(cp) / time.Second),
			NoCache:    !cp.cached,
			Guard:      cp.edgeGuard(),
		}
		members := slices.Clone(cp.all)
		slices.SortFunc(members, func(x, y *Func) int { return strings.Compare(x.meta.Name, y.meta.Name) })
		for _, f := range members {
			switch {
			case f.meta.ViewPath:
				mc.Functions = append(mc.Functions, manifest.Function{Name: f.meta.Name, Path: manifest.PathView, Route: f.meta.Route})
			case !f.meta.Private:
				mc.Functions = append(mc.Functions, manifest.Function{Name: f.meta.Name, Path: manifest.PathRPC})
			}
		}
		if len(cp.fetch) > 0 {
			mc.Endpoints = append(mc.Endpoints, a.cfg.Prefix+"ctx/"+name+"/")
		}
		// User scoping, render strategy and page routes are the context's
		// own metadata (App.Contexts), so that the manifest and the SSR
		// side never disagree.
		meta := cp.meta()
		mc.UserScoped, mc.RenderStrategy = meta.UserScoped, string(meta.RenderStrategy)
		mc.PageRoutes = append(mc.PageRoutes, meta.Routes...)
		mc.Filters = append(mc.Filters, meta.Filters...)
		m.Contexts[name] = mc
	}
	for _, f := range p.sorted {
		if f.meta.Kind != KindMutation {
			continue
		}
		mm := manifest.Mutation{Affects: []string{}, AutoScopedParams: []string{}, CallerScoped: []string{}, Private: f.meta.Private}
		// A context is caller-scoped for the edge only when every target
		// of the mutation in it is: the header names a function-level
		// target by its context, and that one narrows to no one.
		callerOnly := map[string]bool{}
		for _, af := range f.meta.Affects {
			if only, seen := callerOnly[af.Context]; !seen || only {
				callerOnly[af.Context] = af.CallerScoped && af.Function == ""
			}
		}
		for _, af := range f.meta.Affects {
			if !slices.Contains(mm.Affects, af.Context) {
				mm.Affects = append(mm.Affects, af.Context)
			}
			if callerOnly[af.Context] && !slices.Contains(mm.CallerScoped, af.Context) {
				mm.CallerScoped = append(mm.CallerScoped, af.Context)
			}
			for _, arg := range af.ScopedBy {
				if !slices.Contains(mm.AutoScopedParams, arg) {
					mm.AutoScopedParams = append(mm.AutoScopedParams, arg)
				}
			}
		}
		slices.Sort(mm.Affects)
		slices.Sort(mm.AutoScopedParams)
		slices.Sort(mm.CallerScoped)
		if f.meta.ViewPath {
			mm.Route, mm.Methods = f.meta.Route, slices.Clone(f.meta.Methods)
		}
		m.Mutations[f.meta.Name] = mm
	}
	return m, nil
}

// WriteManifest writes the app's edge manifest ([App.Manifest]) to w as
// indented JSON.
func (a *App) WriteManifest(w io.Writer) error {
	m, err := a.Manifest()
	if err != nil {
		return err
	}
	b, err := manifest.Encode(m)
	if err != nil {
		return fmt.Errorf("mizan: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("mizan: writing the manifest: %w", err)
	}
	return nil
}

// WriteManifestFile writes the app's edge manifest to the file path,
// replacing it.
func (a *App) WriteManifestFile(path string) error {
	return writeFile(path, "the manifest", a.WriteManifest)
}

// WriteManifestFromEnv lets "mizan manifest --cmd" get the edge manifest
// out of a program, as [App.WriteIRFromEnv] does for the IR: when the
// environment variable MIZAN_WRITE_MANIFEST ([EnvWriteManifest]) names a
// file, it writes the manifest there and exits the process with status 0
// (status 1, with the error on standard error, when that fails).
// Otherwise it returns at once.
func (a *App) WriteManifestFromEnv() {
	if code, done := a.writeManifestFromEnv(os.Getenv(EnvWriteManifest), os.Stderr); done {
		os.Exit(code)
	}
}

// writeManifestFromEnv writes the manifest to path, when set, and reports
// the exit code.
func (a *App) writeManifestFromEnv(path string, stderr io.Writer) (code int, done bool) {
	return writeFromEnv(path, stderr, a.WriteManifestFile)
}

// edgeGuard is the manifest's guard of cp (manifest.Context.Guard): the
// strictest auth guard of its functions (views included: their pages are
// cached too), for an edge, which cannot run them.
func (cp *contextPlan) edgeGuard() string {
	g := ""
	for _, f := range cp.all {
		switch f.cfg.auth.kind {
		case "":
		case "predicate":
			return manifest.GuardRequest
		default:
			g = manifest.GuardCaller
		}
	}
	return g
}
