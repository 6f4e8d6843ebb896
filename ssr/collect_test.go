package ssr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mizan-afi/mizan"
)

func TestParseInstanceKey(t *testing.T) {
	for _, c := range []struct {
		key     string
		context string
		params  map[string]string
	}{
		{"board", "board", nil},
		{"project?project_id=1", "project", map[string]string{"project_id": "1"}},
		{"orders?page=2&status=a%20b%26c%3Dd&user_id=1", "orders", map[string]string{"page": "2", "status": "a b&c=d", "user_id": "1"}},
		{"x?=empty", "x", map[string]string{"": "empty"}},
		{"x?q=", "x", map[string]string{"q": ""}},
		{"x?q=%C3%A9%2F%3F%23%25%2B", "x", map[string]string{"q": "é/?#%+"}},
	} {
		ctx, params, ok := ParseInstanceKey(c.key)
		if !ok || ctx != c.context || !maps.Equal(params, c.params) {
			t.Errorf("ParseInstanceKey(%q) = %q, %v, %v; want %q, %v", c.key, ctx, params, ok, c.context, c.params)
		}
	}
	for _, bad := range []string{
		"", "?a=1", "x?", "x?a", "x?b=1&a=2", "x?a=1&a=1", "x?a=%zz", "x?a=b c", "x?a=%41", "x?a=1&", "x?a=1+2", "x?a=é",
	} {
		if ctx, params, ok := ParseInstanceKey(bad); ok {
			t.Errorf("ParseInstanceKey(%q) = %q, %v: accepted a key that is no instance's", bad, ctx, params)
		}
	}
	// Round trip of random instances.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("aZ09 -_.!~*'()&=?%+/#é😀\n;,")
	word := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 2000 {
		name := "c" + word()
		if strings.Contains(name, "?") {
			continue
		}
		var params map[string]string
		if n := rng.IntN(4); n > 0 {
			params = map[string]string{}
			for range n {
				params[word()] = word()
			}
		}
		key := InstanceKey(name, params)
		ctx, got, ok := ParseInstanceKey(key)
		if !ok || ctx != name || !maps.Equal(got, params) {
			t.Fatalf("ParseInstanceKey(InstanceKey(%q, %v) = %q) = %q, %v, %v", name, params, key, ctx, got, ok)
		}
	}
}

// boardApp is the data of pages/Board.tsx: projects with owners, counted
// fetches, and failures on demand.
type boardApp struct {
	mu      sync.Mutex
	fetches map[string]int
	fail    map[string]error // by instance key
	nilled  map[string]bool  // answered with a nil bundle
}

func (b *boardApp) fetch(_ context.Context, name string, params map[string]string) ([]byte, error) {
	key := InstanceKey(name, params)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fetches == nil {
		b.fetches = map[string]int{}
	}
	b.fetches[key]++
	if err := b.fail[key]; err != nil {
		return nil, err
	}
	if b.nilled[key] {
		return nil, nil
	}
	switch name {
	case "project":
		id := params["project_id"]
		owner, ok := map[string]string{"1": "7", "2": "8"}[id]
		if !ok {
			owner = "0"
		}
		return fmt.Appendf(nil, `{"project_info":{"id":%s,"name":"Project %s","owner":%s}}`, id, id, owner), nil
	case "user":
		return fmt.Appendf(nil, `{"user_info":{"name":"User %s <&>"}}`, params["user_id"]), nil
	case "hint":
		return []byte(`{"hint_text":"loading"}`), nil
	}
	return nil, mizan.NewError(mizan.CodeNotFound, "no context "+name)
}

var dataScript = regexp.MustCompile(`<script type="application/json" id="mizan-data">(.*?)</script>`)

// rootOf returns the markup of the root element of a document.
func rootOf(html []byte) string {
	s := string(html)
	i := strings.Index(s, `<div id="root">`)
	j := strings.Index(s, "</div>\n<script")
	if i < 0 || j < 0 {
		return ""
	}
	return s[i+len(`<div id="root">`) : j]
}

func boardDoc(b *boardApp) Document {
	return Document{Component: "pages/Board.tsx", Data: Data{"board": []byte(`{"board_projects":[1,2]}`)}, Fetch: b.fetch}
}

// A page embeds every instance its component reads: three levels deep
// (the board lists projects, each project names its owner), each fetched
// once, the placeholder's hint read by the first render only and left
// out; and rendered again from what it embeds, it reads nothing else and
// renders the same markup, which is what the browser hydrates.
func TestRenderPageEmbedsWhatItReads(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	b := &boardApp{}
	out, err := r.RenderPage(ctx, boardDoc(b))
	if err != nil {
		t.Fatal(err)
	}
	embedded := []string{"board", "project?project_id=1", "project?project_id=2", "user?user_id=7", "user?user_id=8"}
	if got := slices.Sorted(maps.Keys(out.Data)); !slices.Equal(got, embedded) {
		t.Errorf("Data = %v, want %v", got, embedded)
	}
	if !slices.Equal(out.Reads, embedded) || !slices.Equal(out.Fetched, embedded[1:]) || len(out.Missing) != 0 || out.Passes != 3 {
		t.Errorf("Reads %v, Fetched %v, Missing %v, Passes %d", out.Reads, out.Fetched, out.Missing, out.Passes)
	}
	wantFetches := map[string]int{"hint": 1, "project?project_id=1": 1, "project?project_id=2": 1, "user?user_id=7": 1, "user?user_id=8": 1}
	if !maps.Equal(b.fetches, wantFetches) {
		t.Errorf("fetches %v, want %v", b.fetches, wantFetches)
	}
	root := rootOf(out.HTML)
	if want := `<main><ul><li>Project 1<em>User 7 &lt;&amp;&gt;</em></li><li>Project 2<em>User 8 &lt;&amp;&gt;</em></li></ul></main>`; root != want {
		t.Errorf("markup %s\nwant %s", root, want)
	}
	m := dataScript.FindSubmatch(out.HTML)
	if m == nil || strings.Contains(string(m[1]), "hint") || !strings.Contains(string(m[1]), `"user?user_id=8":{"user_info":{"name":"User 8 \u003c\u0026\u003e"}}`) {
		t.Errorf("data script %s", m)
	}
	// The hydration's view: the same component over the embedded data
	// reads only what is there and renders the same markup.
	again, err := r.RenderPage(ctx, Document{Component: "pages/Board.tsx", Data: out.Data, Fetch: b.fetch, Passes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rootOf(again.HTML) != root || !slices.Equal(again.Reads, embedded) || len(again.Missing) != 0 {
		t.Errorf("from the embedded data: markup %s, reads %v, missing %v", rootOf(again.HTML), again.Reads, again.Missing)
	}
	// Without Fetch, one render of what Data holds, as before.
	plain, err := r.RenderDocument(ctx, Document{Component: "pages/Board.tsx", Data: out.Data})
	if err != nil || string(plain) != string(again.HTML) {
		t.Errorf("RenderDocument without Fetch:\n%s\nwant\n%s (%v)", plain, again.HTML, err)
	}
}

// Passes bounds the renders; what the last render read and could not have
// is not embedded, and said so.
func TestRenderPagePasses(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	for _, c := range []struct {
		passes   int
		embedded []string
		missing  []string
		markup   string
	}{
		{1, []string{"board"}, []string{"hint", "project?project_id=1", "project?project_id=2"}, "<li>…</li><li>…</li>"},
		{2, []string{"board", "project?project_id=1", "project?project_id=2"}, []string{"user?user_id=7", "user?user_id=8"},
			"<li>Project 1<em>…</em></li><li>Project 2<em>…</em></li>"},
	} {
		d := boardDoc(&boardApp{})
		d.Passes = c.passes
		out, err := r.RenderPage(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(out.Data)); !slices.Equal(got, c.embedded) || !slices.Equal(out.Missing, c.missing) || out.Passes != c.passes {
			t.Errorf("Passes %d: Data %v, Missing %v, %d passes; want %v, %v", c.passes, got, out.Missing, out.Passes, c.embedded, c.missing)
		}
		if !strings.Contains(rootOf(out.HTML), c.markup) {
			t.Errorf("Passes %d: markup %s, want %s", c.passes, rootOf(out.HTML), c.markup)
		}
	}
}

// Fetch may leave an instance out (a nil bundle, a 4xx *mizan.Error: the
// browser fetches it and gets the same answer); any other error fails the
// render, keeping the *mizan.Error's code.
func TestRenderPageFetchRefusals(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	ctx := testContext(t)
	b := &boardApp{
		fail:   map[string]error{"project?project_id=2": mizan.NewError(mizan.CodeNotFound, "gone")},
		nilled: map[string]bool{"user?user_id=7": true},
	}
	out, err := r.RenderPage(ctx, boardDoc(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(out.Data)); !slices.Equal(got, []string{"board", "hint", "project?project_id=1"}) {
		t.Errorf("Data %v", got)
	}
	if want := []string{"project?project_id=2", "user?user_id=7"}; !slices.Equal(out.Missing, want) {
		t.Errorf("Missing %v, want %v", out.Missing, want)
	}
	// Refused once, not asked again by the later passes.
	if b.fetches["project?project_id=2"] != 1 || b.fetches["user?user_id=7"] != 1 {
		t.Errorf("fetches %v", b.fetches)
	}
	if !strings.Contains(rootOf(out.HTML), "<li>Project 1<em>…</em></li><li>loading</li>") {
		t.Errorf("markup %s", rootOf(out.HTML))
	}

	b = &boardApp{fail: map[string]error{"user?user_id=8": mizan.NewError(mizan.CodeUnavailable, "down")}}
	_, err = r.RenderPage(ctx, boardDoc(b))
	var me *mizan.Error
	if !errors.As(err, &me) || me.Code() != mizan.CodeUnavailable || !strings.Contains(err.Error(), "user?user_id=8") {
		t.Errorf("a failing fetch: %v", err)
	}
	b = &boardApp{fail: map[string]error{"user?user_id=8": errors.New("broken")}}
	if _, err = r.RenderPage(ctx, boardDoc(b)); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("a failing fetch: %v", err)
	}
	// A bundle that is not JSON fails the render too.
	d := boardDoc(&boardApp{})
	d.Fetch = func(context.Context, string, map[string]string) ([]byte, error) { return []byte("{"), nil }
	if _, err = r.RenderPage(ctx, d); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("a bundle that is not JSON: %v", err)
	}
}

// What an earlier render read is fetched first: a page that reads the same
// renders once; what it no longer reads is fetched but not embedded.
func TestRenderPagePrefetch(t *testing.T) {
	r := newRenderer(t, Config{Workers: 1})
	b := &boardApp{}
	prefetch := []string{"project?project_id=1", "project?project_id=2", "project?project_id=9", "user?user_id=7", "user?user_id=8"}
	out, err := r.renderCollecting(testContext(t), boardDoc(b), prefetch)
	if err != nil {
		t.Fatal(err)
	}
	embedded := []string{"board", "project?project_id=1", "project?project_id=2", "user?user_id=7", "user?user_id=8"}
	if got := slices.Sorted(maps.Keys(out.Data)); out.Passes != 1 || !slices.Equal(got, embedded) || !slices.Equal(out.Fetched, embedded[1:]) {
		t.Errorf("%d passes, Data %v, Fetched %v; want 1, %v", out.Passes, got, out.Fetched, embedded)
	}
	if strings.Contains(string(out.HTML), "project_id=9") || b.fetches["project?project_id=9"] != 1 || b.fetches["hint"] != 0 {
		t.Errorf("fetches %v\n%s", b.fetches, out.HTML)
	}
}
