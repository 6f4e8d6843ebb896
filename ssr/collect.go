package ssr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/mizan-afi/mizan"
)

// Bounds of a page that embeds what it reads ([Document.Fetch]).
const (
	// DefaultPasses is the number of renders of a page that embeds what it
	// reads, when [Document.Passes] is zero: one render that reads the
	// embedded data and names what it lacks, one with the instances it
	// named, and one more for instances that only their data led to.
	DefaultPasses = 3
	// MaxCollected bounds the instances one page fetches because its
	// component read them; instances it reads beyond that are not embedded
	// (the browser fetches them).
	MaxCollected = 512
	// collectFetches is how many of them are fetched at once.
	collectFetches = 8
)

// FetchFunc returns the bundle of one context instance, as GET
// ctx/<context>/ with params would answer it: [mizan.App.Fetch] is one,
// for the caller of ctx. A nil bundle with a nil error means the instance
// is not to be embedded.
type FetchFunc func(ctx context.Context, context string, params map[string]string) ([]byte, error)

// Rendered is a page rendered by [Renderer.RenderPage].
type Rendered struct {
	// HTML is the whole document.
	HTML []byte
	// Data is what the page embeds: the Document's data, and the bundles
	// fetched because the last render read them.
	Data Data
	// Reads are the instance keys the last render looked up in its data,
	// sorted: those the component read, embedded or not. Empty without
	// [Document.Fetch].
	Reads []string
	// Fetched are the keys of Data that were fetched because the component
	// read them (not in [Document.Data]), sorted.
	Fetched []string
	// Missing are the keys the last render read that the page does not
	// embed, sorted: Fetch refused them (a nil bundle, a [*mizan.Error] of
	// a 4xx status: the browser fetches them and gets the same answer),
	// the passes ran out before they could be fetched, or the page read
	// more than [MaxCollected] instances.
	Missing []string
	// Passes is how many times the component was rendered.
	Passes int
}

// RenderPage renders a document as [Renderer.RenderDocument] does and
// returns it with what it embeds. With [Document.Fetch], the page embeds
// every context instance its component reads on its first render, not only
// those in [Document.Data]: the worker renders the component with its data
// wrapped so as to note each instance key the component looks up (a
// MizanClient looks up the key of every instance it creates, as its hooks
// read them), RenderPage fetches with Fetch those the data lacks and
// renders again, until a render reads nothing new or [Document.Passes]
// renders are done. The page embeds the Document's data and the fetched
// bundles the last render read; its markup is that render's, so hydration
// in the browser starts from exactly what the server rendered, and the
// client issues no fetch for any instance the page read.
//
// Keys that are not the canonical key of an instance ([InstanceKey]) are
// ignored. A Fetch error that is a [*mizan.Error] of a 4xx status (the
// instance does not exist, the caller may not read it) leaves the instance
// out; any other error fails the render.
func (r *Renderer) RenderPage(ctx context.Context, p Document) (*Rendered, error) {
	return r.renderCollecting(ctx, p, nil)
}

// renderCollecting is RenderPage that, with Fetch, first fetches the
// instances of prefetch (what an earlier render of the page read, most
// likely read again), as if a render had read them: those the render does
// read are embedded without a render to find them, the others dropped.
func (r *Renderer) renderCollecting(ctx context.Context, p Document, prefetch []string) (*Rendered, error) {
	file, err := r.Resolve(p.Component)
	if err != nil {
		return nil, err
	}
	props, err := encodeProps(p.Props)
	if err != nil {
		return nil, fmt.Errorf("ssr: page %s: %w", p.Component, err)
	}
	data := maps.Clone(p.Data)
	if data == nil {
		data = Data{}
	}
	passes := p.Passes
	if passes <= 0 {
		passes = DefaultPasses
	}
	collect := p.Fetch != nil
	fetched := map[string]bool{}
	refused := map[string]bool{}
	// add fetches the instances of keys into data, or notes them refused.
	add := func(keys []string) error {
		got, err := fetchRead(ctx, p.Fetch, keys)
		if err != nil {
			return fmt.Errorf("ssr: page %s: %w", p.Component, err)
		}
		for i, k := range keys {
			if got[i] == nil {
				refused[k] = true
				continue
			}
			data[k] = got[i]
			fetched[k] = true
		}
		return nil
	}
	if collect && len(prefetch) > 0 {
		var keys []string
		for _, k := range prefetch {
			if _, ok := data[k]; !ok && len(keys) < MaxCollected {
				keys = append(keys, k)
			}
		}
		if err := add(keys); err != nil {
			return nil, err
		}
	}
	for pass := 1; ; pass++ {
		dj, err := data.json()
		if err != nil {
			return nil, fmt.Errorf("ssr: page %s: %w", p.Component, err)
		}
		body, reads, err := r.renderFile(ctx, file, withInitialData(props, dj), collect)
		if err != nil {
			return nil, err
		}
		if !collect {
			return &Rendered{HTML: appendDocument(nil, &p, body, dj, props), Data: data, Passes: pass}, nil
		}
		slices.Sort(reads)
		reads = slices.Compact(reads)
		var missing []string
		for _, k := range reads {
			if _, ok := data[k]; !ok && !refused[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 || pass >= passes {
			return finishPage(&p, body, props, data, dj, reads, fetched, pass)
		}
		if room := MaxCollected - len(fetched); len(missing) > room {
			for _, k := range missing[max(room, 0):] {
				refused[k] = true
			}
			missing = missing[:max(room, 0)]
		}
		if err := add(missing); err != nil {
			return nil, err
		}
	}
}

// finishPage returns the page of the last render: it embeds the
// Document's data and the fetched bundles that render read (a bundle
// fetched for an earlier render, or prefetched, and not read by the last
// is left out).
func finishPage(p *Document, body string, props []byte, data Data, dj []byte, reads []string, fetched map[string]bool, passes int) (*Rendered, error) {
	out := &Rendered{Data: data, Reads: reads, Passes: passes}
	read := make(map[string]bool, len(reads))
	for _, k := range reads {
		read[k] = true
		if _, ok := data[k]; !ok {
			out.Missing = append(out.Missing, k)
		}
	}
	dropped := false
	for k := range fetched {
		if read[k] {
			out.Fetched = append(out.Fetched, k)
		} else {
			delete(data, k) // fetched for an earlier render only
			dropped = true
		}
	}
	slices.Sort(out.Fetched)
	if dropped {
		var err error
		if dj, err = data.json(); err != nil {
			return nil, fmt.Errorf("ssr: page %s: %w", p.Component, err)
		}
	}
	out.HTML = appendDocument(nil, p, body, dj, props)
	return out, nil
}

// fetchRead fetches the instances of keys, a few at once. A key that is no
// instance's, a nil bundle and a 4xx *mizan.Error leave a nil entry; any
// other error is returned.
func fetchRead(ctx context.Context, fetch FetchFunc, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, collectFetches)
	var wg sync.WaitGroup
	for i, k := range keys {
		name, params, ok := ParseInstanceKey(k)
		if !ok {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b, err := fetch(ctx, name, params)
			var me *mizan.Error
			switch {
			case err == nil:
				out[i] = b
			case errors.As(err, &me) && me.Status() >= 400 && me.Status() < 500:
			default:
				errs[i] = fmt.Errorf("fetching %s, which it reads: %w", k, err)
			}
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// ParseInstanceKey returns the context and params of an instance key of
// the @mizan/base kernel, the inverse of [InstanceKey]. It reports false
// for a string that is not the canonical key of an instance: no context
// name, params not sorted, escaped otherwise than encodeURIComponent
// escapes them, repeated, or empty after the "?".
func ParseInstanceKey(key string) (context string, params map[string]string, ok bool) {
	context, query, hasQuery := strings.Cut(key, "?")
	if context == "" {
		return "", nil, false
	}
	if hasQuery {
		params = map[string]string{}
		for pair := range strings.SplitSeq(query, "&") {
			k, v, found := strings.Cut(pair, "=")
			if !found {
				return "", nil, false
			}
			var err error
			if k, err = url.PathUnescape(k); err != nil {
				return "", nil, false
			}
			if v, err = url.PathUnescape(v); err != nil {
				return "", nil, false
			}
			if _, dup := params[k]; dup {
				return "", nil, false
			}
			params[k] = v
		}
	}
	if InstanceKey(context, params) != key {
		return "", nil, false
	}
	return context, params, true
}
