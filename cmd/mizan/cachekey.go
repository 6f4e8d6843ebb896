package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/mizan-afi/mizan/cache"
)

// paramFlags collects repeated --param name=value flags.
type paramFlags []cache.Param

func (p *paramFlags) String() string { return "" }

func (p *paramFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	*p = append(*p, cache.Param{Name: name, Value: value})
	return nil
}

// runCacheKey implements "mizan cache-key": it prints the origin-cache key of
// one context instance and nothing else on stdout.
func runCacheKey(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("cache-key", "--secret S --context NAME [--param k=v ...] [--user ID] [--rev N]", stderr)
	secret := fs.String("secret", "", "the cache secret (MIZAN_CACHE_SECRET), at least 32 bytes")
	context := fs.String("context", "", "the context `name`")
	user := fs.String("user", "", "the caller's user `id`, for a user-scoped entry")
	rev := fs.Int("rev", 0, "the context's cache revision")
	var params paramFlags
	fs.Var(&params, "param", "a parameter as `name=value` (the value may contain '='); repeat for more")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mizan cache-key: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if *context == "" {
		fmt.Fprintln(stderr, "mizan cache-key: --context is required")
		fs.Usage()
		return exitUsage
	}
	k, err := cache.NewKeyer([]byte(*secret))
	if err != nil {
		fmt.Fprintf(stderr, "mizan cache-key: --secret: %v\n", err)
		return exitUsage
	}
	if err := cache.SortParams(params); err != nil {
		fmt.Fprintf(stderr, "mizan cache-key: %v\n", err)
		return exitUsage
	}
	key, err := k.Key(*context, params, *rev, *user)
	if err != nil {
		fmt.Fprintf(stderr, "mizan cache-key: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, key)
	return exitOK
}
