package ssr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrBadName is wrapped by the error of a template name that is refused: not
// a .tsx or .jsx file, absolute, containing "..", or leading (through a
// symlink) out of its template directory.
var ErrBadName = errors.New("ssr: template name refused")

// ErrNoTemplate is wrapped by the error of a template name found in none of
// the template directories.
var ErrNoTemplate = errors.New("ssr: template not found")

// Resolve returns the real path of the template name: the first file that
// name, a slash-separated path relative to a template directory, names in
// [Config.Dirs]. It refuses (with [ErrBadName]) a name that does not end in
// .tsx or .jsx, is absolute, has an empty, "." or ".." element or a
// backslash, or whose file, once symlinks are resolved, lies outside the
// directory it was found in.
//
// A name found is remembered for the life of the Renderer, as the workers
// remember the modules they imported: restart to pick up a template that
// was moved or re-linked (a new one is found at once).
func (r *Renderer) Resolve(name string) (string, error) {
	if p, ok := r.resolved.Load(name); ok {
		return p.(string), nil
	}
	p, err := r.resolve(name)
	if err == nil && r.nResolved.Add(1) <= maxResolved {
		r.resolved.Store(name, p)
	}
	return p, err
}

// maxResolved bounds the names Resolve remembers.
const maxResolved = 4096

// resolve is Resolve without the memory.
func (r *Renderer) resolve(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	rel := filepath.FromSlash(name)
	for _, dir := range r.s.dirs {
		p := filepath.Join(dir, rel)
		if _, err := os.Lstat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				continue
			}
			return "", fmt.Errorf("ssr: template %q: %w", name, err)
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrBadName, name, err)
		}
		if !within(dir, real) {
			return "", fmt.Errorf("%w: %q leads outside %s", ErrBadName, name, dir)
		}
		fi, err := os.Stat(real)
		if err != nil {
			return "", fmt.Errorf("ssr: template %q: %w", name, err)
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%w: %q is not a regular file", ErrBadName, name)
		}
		return real, nil
	}
	return "", fmt.Errorf("%w: %q in %s", ErrNoTemplate, name, strings.Join(r.s.dirs, ", "))
}

// checkName applies the rules of Resolve that need no file system.
func checkName(name string) error {
	if !strings.HasSuffix(name, ".tsx") && !strings.HasSuffix(name, ".jsx") {
		return fmt.Errorf("%w: %q is not a .tsx or .jsx file", ErrBadName, name)
	}
	if strings.ContainsAny(name, "\\\x00") {
		return fmt.Errorf("%w: %q contains a backslash or NUL", ErrBadName, name)
	}
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
		return fmt.Errorf("%w: %q is absolute (names are relative to Config.Dirs)", ErrBadName, name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%w: %q has an empty, \".\" or \"..\" element", ErrBadName, name)
		}
	}
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return fmt.Errorf("%w: %q is not a local path", ErrBadName, name)
	}
	return nil
}

// within reports whether path lies strictly inside dir (both absolute and
// clean).
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && filepath.IsLocal(rel)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}
