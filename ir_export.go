package mizan

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/mizan-afi/mizan/ir"
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
		specs = append(specs, irSpec(m))
	}
	doc, err := ir.Build(specs, ir.Options{Prefix: a.Prefix()})
	if err != nil {
		return nil, fmt.Errorf("mizan: exporting the IR: %w", err)
	}
	return doc, nil
}

// irSpec describes a function for ir.Build.
func irSpec(m Meta) ir.FunctionSpec {
	s := ir.FunctionSpec{
		Name: m.Name, Kind: string(m.Kind), Context: m.Context, View: m.ViewPath,
		Route: m.Route, Methods: m.Methods, WebSocket: m.WebSocket, Auth: m.Auth,
		Rev: m.Rev, Shared: m.Shared, Form: ir.Form{Name: m.Form.Name, Role: string(m.Form.Role)},
		Params: []ir.ParamSpec{}, Args: m.Args, Result: m.Result,
	}
	if m.Cache.Set {
		s.Cache = ir.Cache{Off: m.Cache.Off, TTL: m.Cache.TTL}
		if m.Cache.Off {
			s.Cache.TTL = 0
		}
	}
	for _, p := range m.Params {
		s.Params = append(s.Params, ir.ParamSpec{Name: p.Name, Type: p.Type, Optional: p.Optional})
	}
	for _, af := range m.Affects {
		s.Affects = append(s.Affects, ir.Affect{Context: af.Context, Function: af.Function, ScopedBy: af.ScopedBy})
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
//	log.Fatal(http.ListenAndServe(":8080", app))
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
