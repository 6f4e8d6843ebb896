package mizan

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/mizan-afi/mizan/manifest"
)

// EnvWriteManifest is the environment variable [App.WriteManifestFromEnv]
// reads: when it names a file, the app writes its edge manifest there and
// exits instead of serving. "mizan manifest --cmd" sets it when it runs a
// program.
const EnvWriteManifest = manifest.EnvWrite

// Manifest returns the app's edge manifest (package manifest,
// docs/manifest.md): every context with its functions, endpoint,
// parameters, user scoping, render strategy and page routes, and every
// mutation with what it affects and the arguments that scope it. The same
// app always gives an equal manifest. It builds the app if needed.
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
			PageRoutes: []string{},
			Shared:     cp.shared,
			Rev:        cp.rev,
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
		m.Contexts[name] = mc
	}
	for _, f := range p.sorted {
		if f.meta.Kind != KindMutation {
			continue
		}
		mm := manifest.Mutation{Affects: []string{}, AutoScopedParams: []string{}, Private: f.meta.Private}
		for _, af := range f.meta.Affects {
			if !slices.Contains(mm.Affects, af.Context) {
				mm.Affects = append(mm.Affects, af.Context)
			}
			for _, arg := range af.ScopedBy {
				if !slices.Contains(mm.AutoScopedParams, arg) {
					mm.AutoScopedParams = append(mm.AutoScopedParams, arg)
				}
			}
		}
		slices.Sort(mm.Affects)
		slices.Sort(mm.AutoScopedParams)
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
