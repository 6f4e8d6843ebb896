package ssr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"maps"
	"slices"
	"strings"
)

// The ids of the JSON scripts a page embeds.
const (
	// DataScriptID is the id of the script holding the bundles a page was
	// rendered from, the client's initialData (readInitialData() of
	// @mizan/base reads it).
	DataScriptID = "mizan-data"
	// PropsScriptID is the id of the script holding the props the page's
	// component was rendered with (readInitialData('mizan-props')).
	PropsScriptID = "mizan-props"
	// RootID is the id of the element the component is rendered into, the
	// one to hydrate.
	RootID = "root"
)

// Data holds the context bundles a page embeds for hydration, keyed by the
// instance keys of the @mizan/base kernel ([InstanceKey]): the client
// passes it as ClientOptions.initialData, and its instances start with
// this data instead of fetching it.
type Data map[string]json.RawMessage

// Add records the bundle of the context instance (context, params).
func (d Data) Add(context string, params map[string]string, bundle []byte) {
	d[InstanceKey(context, params)] = json.RawMessage(bundle)
}

// InstanceKey returns the key @mizan/base gives the instance of context with
// params (instanceKey(context, params)): the context name, then, when
// there are params, "?" and name=value pairs sorted by name, joined by "&",
// names and values escaped as JavaScript's encodeURIComponent escapes them.
// Values are the parameters' wire strings (integers in decimal).
func InstanceKey(context string, params map[string]string) string {
	if len(params) == 0 {
		return context
	}
	var b strings.Builder
	b.WriteString(context)
	for i, k := range slices.Sorted(maps.Keys(params)) {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		encodeURIComponent(&b, k)
		b.WriteByte('=')
		encodeURIComponent(&b, params[k])
	}
	return b.String()
}

// encodeURIComponent writes s escaped as JavaScript's encodeURIComponent
// escapes it: every UTF-8 byte as %XX except A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func encodeURIComponent(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// Document is one HTML document rendered on the server: a component rendered
// into the root element, the data it was rendered from, and the scripts
// that hydrate it.
type Document struct {
	// Component is the template name of the page's component.
	Component string
	// Props are the component's props (a value that encodes to a JSON
	// object; nil means none). The component also receives the prop
	// "initialData", holding Data.
	Props any
	// Data is the context bundles the page embeds ([Data]).
	Data Data
	// Title is the document's title (escaped).
	Title string
	// Lang is the html element's lang attribute. Empty means "en".
	Lang string
	// Head is trusted markup added to the head (stylesheets, meta tags).
	Head template.HTML
	// Scripts are the URLs of the module scripts loaded at the end of the
	// body: the client entry that hydrates the root element.
	Scripts []string
	// Fetch, when set, makes the page embed every context instance its
	// component reads, not only those of Data: instances it reads that
	// Data lacks are fetched with Fetch and the component is rendered
	// again (see [Renderer.RenderPage]). Nil renders once, from Data.
	Fetch FetchFunc
	// Passes bounds the renders of a page with Fetch. Zero means
	// [DefaultPasses]; 1 renders once and reports what was read.
	Passes int
}

// RenderDocument renders the document's component and returns the whole HTML
// document: the component's HTML in <div id="root">, then the data and the
// props as JSON scripts (<script type="application/json"> with ids
// [DataScriptID] and [PropsScriptID]), escaped so that no value can end the
// script or open a comment (<, > and & become \u003c, \u003e and \u0026,
// U+2028 and U+2029 \u2028 and \u2029), then the module scripts.
//
// With [Document.Fetch], the page also embeds the instances its component
// reads that Data lacks ([Renderer.RenderPage]).
func (r *Renderer) RenderDocument(ctx context.Context, p Document) ([]byte, error) {
	out, err := r.RenderPage(ctx, p)
	if err != nil {
		return nil, err
	}
	return out.HTML, nil
}

// json encodes d as one JSON object, keys sorted.
func (d Data) json() ([]byte, error) {
	b := []byte{'{'}
	for i, k := range slices.Sorted(maps.Keys(d)) {
		v := d[k]
		if !json.Valid(v) {
			return nil, fmt.Errorf("the bundle of %s is not valid JSON", k)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b, _ = appendJSONString(b, k)
		b = append(append(b, ':'), v...)
	}
	return append(b, '}'), nil
}

// withInitialData returns the props object with "initialData": data added
// first (props of the same name win).
func withInitialData(props, data []byte) []byte {
	t := bytes.TrimSpace(props)
	out := make([]byte, 0, len(t)+len(data)+16)
	out = append(out, `{"initialData":`...)
	out = append(out, data...)
	rest := bytes.TrimSpace(t[1:])
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// appendDocument appends the HTML document of a rendered page.
func appendDocument(dst []byte, p *Document, body string, data, props []byte) []byte {
	lang := p.Lang
	if lang == "" {
		lang = "en"
	}
	b := bytes.NewBuffer(dst)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"")
	b.WriteString(html.EscapeString(lang))
	b.WriteString("\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	if p.Title != "" {
		b.WriteString("<title>")
		b.WriteString(html.EscapeString(p.Title))
		b.WriteString("</title>\n")
	}
	if p.Head != "" {
		b.WriteString(string(p.Head))
		b.WriteByte('\n')
	}
	b.WriteString("</head>\n<body>\n<div id=\"" + RootID + "\">")
	b.WriteString(body)
	b.WriteString("</div>\n")
	writeJSONScript(b, DataScriptID, data)
	writeJSONScript(b, PropsScriptID, props)
	for _, src := range p.Scripts {
		b.WriteString("<script type=\"module\" src=\"")
		b.WriteString(html.EscapeString(src))
		b.WriteString("\"></script>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.Bytes()
}

// writeJSONScript writes a JSON script element holding v (valid JSON),
// escaped for the inside of a script element.
func writeJSONScript(b *bytes.Buffer, id string, v []byte) {
	b.WriteString(`<script type="application/json" id="`)
	b.WriteString(id)
	b.WriteString(`">`)
	EscapeScriptJSON(b, v)
	b.WriteString("</script>\n")
}

// EscapeScriptJSON writes the JSON text v to b, escaped for the inside of a
// <script> element: <, > and & as \u003c, \u003e and \u0026, and U+2028
// and U+2029 as \u2028 and \u2029, so that no value can close the script
// ("</script>"), open a comment ("<!--") or break a line of a JavaScript
// parser. The result parses to the same value. v must be valid JSON.
func EscapeScriptJSON(b *bytes.Buffer, v []byte) {
	json.HTMLEscape(b, v)
}
