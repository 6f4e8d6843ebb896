package ssr

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// EnvBun is the environment variable naming the Bun executable that
// [BunFromEnv] reads. Package ssr reads no configuration from the
// environment on its own: a program that honours MIZAN_BUN sets
// [Config.Bun] to BunFromEnv().
const EnvBun = "MIZAN_BUN"

// BunFromEnv returns the Bun executable that $MIZAN_BUN ([EnvBun]) names,
// or "" when it is unset: the one place package ssr reads its
// configuration from the environment. Give it to [Config.Bun], where ""
// means the default search:
//
//	r, err := ssr.New(ssr.Config{Dirs: dirs, Bun: ssr.BunFromEnv()})
func BunFromEnv() string {
	return os.Getenv(EnvBun)
}

// BunPackagePath is where the npm package @oven/bun-linux-x64 keeps the
// Bun executable, relative to a node_modules directory's parent.
const BunPackagePath = "node_modules/@oven/bun-linux-x64/bin/bun"

// WorkerPath is where the worker lives relative to the frontends directory
// of a clone of Mizan.
const WorkerPath = "frontends/ssr/worker.tsx"

// Defaults of [Config].
const (
	DefaultTimeout      = 5 * time.Second
	DefaultStartTimeout = 30 * time.Second
	DefaultMaxWorkers   = 4
)

// ErrBunNotFound is returned by [New] (wrapped) when no Bun executable can
// be found.
var ErrBunNotFound = errors.New("ssr: bun not found")

// ErrWorkerNotFound is returned by [New] (wrapped) when the worker script
// cannot be found.
var ErrWorkerNotFound = errors.New("ssr: worker.tsx not found")

// Config configures a [Renderer]. Only Dirs is required; every other zero
// value is a working default.
type Config struct {
	// Dirs are the template directories: a template name such as
	// "pages/Project.tsx" is looked up in each, in order. A name that is
	// absolute, contains "..", or resolves (through symlinks) outside the
	// directory it was found in is refused.
	Dirs []string
	// Worker is the path of worker.tsx. Empty means frontends/ssr/worker.tsx
	// in the working directory or the nearest parent that has one.
	Worker string
	// Bun is the Bun executable. Empty means
	// node_modules/@oven/bun-linux-x64/bin/bun ([BunPackagePath]) in the
	// worker's directory or the nearest parent that has one (the frontends
	// workspace installs it), else "bun" on PATH. The environment is not
	// consulted: set Bun to [BunFromEnv]() to honour $MIZAN_BUN.
	Bun string
	// Workers is the number of worker processes. Zero means GOMAXPROCS,
	// at most [DefaultMaxWorkers]. Each is started when first needed.
	Workers int
	// Timeout bounds one render (the context given to Render may end it
	// sooner). Zero means [DefaultTimeout]. A worker that has answered
	// nothing since a render that timed out was sent is taken as stuck (a
	// component in an endless loop) and killed; it restarts on next use.
	Timeout time.Duration
	// StartTimeout bounds the start of a worker, until it says ready. Zero
	// means [DefaultStartTimeout].
	StartTimeout time.Duration
	// Env is added to the workers' environment, after the process's own
	// (which the workers inherit) and after the defaults Mizan sets:
	// NODE_ENV=production, NODE_PATH (the node_modules directories above
	// the worker, so that components anywhere find react and react-dom,
	// followed by the inherited NODE_PATH, if any), and MIZAN_SSR_DIRS
	// (Dirs, which the worker enforces too).
	Env []string
	// Logger receives what the workers print on stderr (components' console
	// output) and their starts and deaths. Nil means slog.Default().
	Logger *slog.Logger
}

// settings is a Config with defaults applied and paths resolved.
type settings struct {
	dirs         []string // real, absolute
	worker       string   // absolute
	bun          string
	workers      int
	timeout      time.Duration
	startTimeout time.Duration
	env          []string
	logger       *slog.Logger
}

// settle checks cfg and applies its defaults.
func (cfg Config) settle() (*settings, error) {
	s := &settings{workers: cfg.Workers, timeout: cfg.Timeout, startTimeout: cfg.StartTimeout, logger: cfg.Logger}
	if len(cfg.Dirs) == 0 {
		return nil, errors.New("ssr: Config.Dirs is empty: give at least one template directory")
	}
	for _, d := range cfg.Dirs {
		real, err := realDir(d)
		if err != nil {
			return nil, fmt.Errorf("ssr: template directory %q: %w", d, err)
		}
		s.dirs = append(s.dirs, real)
	}
	if s.workers < 0 {
		return nil, fmt.Errorf("ssr: Config.Workers is %d", s.workers)
	}
	if s.workers == 0 {
		s.workers = min(runtime.GOMAXPROCS(0), DefaultMaxWorkers)
	}
	if s.timeout < 0 || s.startTimeout < 0 {
		return nil, errors.New("ssr: Config.Timeout and StartTimeout must not be negative")
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.startTimeout == 0 {
		s.startTimeout = DefaultStartTimeout
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	worker, err := findWorker(cfg.Worker)
	if err != nil {
		return nil, err
	}
	s.worker = worker
	if s.bun, err = FindBun(cfg.Bun, filepath.Dir(worker)); err != nil {
		return nil, err
	}
	s.env = append(s.env, "NODE_ENV=production")
	if np := nodePath(filepath.Dir(worker)); np != "" {
		// The workers start with the process's environment (os.Environ)
		// plus s.env: NODE_PATH extends the one they inherit rather than
		// hiding it. This passes the environment on to the child; it is
		// not configuration of package ssr.
		if old := environValue(os.Environ(), "NODE_PATH"); old != "" {
			np += string(os.PathListSeparator) + old
		}
		s.env = append(s.env, "NODE_PATH="+np)
	}
	dirs := ""
	for i, d := range s.dirs {
		if i > 0 {
			dirs += string(os.PathListSeparator)
		}
		dirs += d
	}
	s.env = append(s.env, "MIZAN_SSR_DIRS="+dirs)
	s.env = append(s.env, cfg.Env...)
	return s, nil
}

// realDir returns the absolute path of directory d with symlinks resolved.
func realDir(d string) (string, error) {
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", errors.New("not a directory")
	}
	return real, nil
}

// findWorker returns the absolute path of the worker script.
func findWorker(path string) (string, error) {
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrWorkerNotFound, err)
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%w: %s is not a file", ErrWorkerNotFound, abs)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrWorkerNotFound, err)
	}
	if p, ok := upward(wd, filepath.FromSlash(WorkerPath)); ok {
		return p, nil
	}
	return "", fmt.Errorf("%w in %s or a parent; set Config.Worker", ErrWorkerNotFound, wd)
}

// FindBun returns the Bun executable to run: bun itself when not empty (a
// path, or a name looked up in PATH), else
// node_modules/@oven/bun-linux-x64/bin/bun in dir or its nearest parent
// that has one, else "bun" on PATH. It does not read $MIZAN_BUN: pass
// [BunFromEnv]() as bun for that. The error wraps [ErrBunNotFound].
func FindBun(bun, dir string) (string, error) {
	if bun != "" {
		p, err := exec.LookPath(bun)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrBunNotFound, err)
		}
		return p, nil
	}
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			if p, ok := upward(abs, filepath.FromSlash(BunPackagePath)); ok {
				return p, nil
			}
		}
	}
	p, err := exec.LookPath("bun")
	if err != nil {
		return "", fmt.Errorf("%w: no %s above %s, none on PATH (run npm ci in frontends/, or set Config.Bun, e.g. to BunFromEnv() for $%s)", ErrBunNotFound, BunPackagePath, dir, EnvBun)
	}
	return p, nil
}

// environValue returns the value of key in env, a list of "key=value"
// entries such as os.Environ() returns, or "" when it has none. The last
// entry wins, as it does for a child process.
func environValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// upward looks for rel in dir and each of its parents and returns the first
// regular file found.
func upward(dir, rel string) (string, bool) {
	for {
		p := filepath.Join(dir, rel)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// nodePath returns the node_modules directories in dir and its parents,
// nearest first, joined as NODE_PATH wants them.
func nodePath(dir string) string {
	out := ""
	for {
		nm := filepath.Join(dir, "node_modules")
		if fi, err := os.Stat(nm); err == nil && fi.IsDir() {
			if out != "" {
				out += string(os.PathListSeparator)
			}
			out += nm
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return out
		}
		dir = parent
	}
}
