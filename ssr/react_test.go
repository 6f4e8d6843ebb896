package ssr

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// copyTree copies the directory src to dst (files and directories only).
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// TestLinkedPackageSharesTheAppsReact renders a component of an app that
// has its own copy of React and uses a hook from a package linked into its
// node_modules (as file: dependencies and workspaces are): the linked
// package must get the app's React, not the one next to its real path, or
// its hooks fail ("Invalid hook call").
func TestLinkedPackageSharesTheAppsReact(t *testing.T) {
	requireBun(t)
	root := t.TempDir()
	app := filepath.Join(root, "app")
	modules := filepath.Join(app, "node_modules")
	for _, pkg := range []string{"react", "react-dom", "scheduler"} {
		copyTree(t, filepath.Join("..", "frontends", "node_modules", pkg), filepath.Join(modules, pkg))
	}
	linked := filepath.Join(root, "linked-hook")
	files := map[string]string{
		filepath.Join(linked, "package.json"): `{"name":"linked-hook","type":"module","main":"index.js"}`,
		filepath.Join(linked, "index.js"): "import { useState } from 'react';\n" +
			"export function useGreeting(name) { const [g] = useState('hello ' + name); return g; }\n",
		filepath.Join(app, "pages", "Greeting.tsx"): "import { useGreeting } from 'linked-hook';\n" +
			"export default function Greeting({ name }: { name: string }) { return <b>{useGreeting(name)}</b>; }\n",
	}
	for path, text := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(linked, filepath.Join(modules, "linked-hook")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	r := newRenderer(t, Config{Dirs: []string{filepath.Join(app, "pages")}, Workers: 1})
	html, err := r.Render(testContext(t), "Greeting.tsx", map[string]string{"name": "Ada"})
	if err != nil || html != "<b>hello Ada</b>" {
		t.Fatalf("Render = %q, %v; want the hook of the linked package to work", html, err)
	}
}
