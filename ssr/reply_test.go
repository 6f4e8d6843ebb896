package ssr

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestParseReply(t *testing.T) {
	for _, line := range []string{
		`{"id":7,"html":"<p class=\"a\">x</p>"}` + "\n",
		`{"id":8,"html":""}`,
		`{"id":9,"html":"\u00e9\ud83d\ude00 \u2028 \\ \/ \b\f\n\r\t"}`,
		`{"id":10,"html":"lone \ud800 high, lone \udc00 low, pair \ud83d\ude00"}`,
		`{"id":11,"error":"boom"}`,
		`{"id":0,"ready":true}`,
		`{"id":12,"pong":true}`,
		`{"id":13,"bench":{"n":3,"ns":99,"bytes":4}}`,
		`{"id":null,"error":"malformed request: not JSON"}`,
		`{"id":14,"html":"é raw utf-8"}`,
		`{"id":15,"html":"<p>x</p>","reads":["board","project?project_id=2"]}`,
		`{"id":16,"html":"<p>\"</p>","reads":[]}`,
		`{"id":17,"html":"x","reads":["a\u0026b"]}`,
		`{"id":18,"html":"x","reads":[1]}`,
		`{"id":19,"html":"x","reads":null}`,
		`{"id":20,"html":"x","other":1}`,
	} {
		got, err := parseReply([]byte(line))
		var want wireReply
		werr := json.Unmarshal([]byte(line), &want)
		if (err != nil) != (werr != nil) {
			t.Errorf("%s: err = %v, encoding/json says %v", line, err, werr)
			continue
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("%s:\n got %s\nwant %s", line, gb, wb)
		}
	}
	for _, bad := range []string{`{"id":1,"html":"unterminated}`, `{"id":1,"html":"\x"}`, "{\"id\":1,\"html\":\"ctl\x01\"}", `{"id":1,"html":"\u12"}`, `nope`} {
		if _, err := parseReply([]byte(bad)); err == nil {
			t.Errorf("parseReply(%q) accepted it", bad)
		}
	}
}

// FuzzUnquote checks the hand-written string decoder of replies against
// encoding/json.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`""`, `"abc"`, `"a\"b\\c\/d"`, `"\u00e9\ud83d\ude00"`, `"\ud800\udc00"`, `"\ud800x"`, `"\udc00"`, `"\n\t"`, `"é"`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, rest, ok := unquote(b)
		if ok {
			n := len(b) - len(rest)
			var want string
			if err := json.Unmarshal(b[:n], &want); err != nil {
				t.Fatalf("unquote accepted %q (as %q); encoding/json says %v", b[:n], got, err)
			}
			if got != want {
				t.Fatalf("unquote(%q) = %q; encoding/json says %q", b[:n], got, want)
			}
			return
		}
		// A refusal is right where encoding/json refuses too, and for
		// invalid UTF-8, which it replaces, and for leading white space
		// (parseReply falls back to encoding/json for those).
		var s string
		if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &s) == nil && utf8.Valid(b) {
			t.Fatalf("unquote refused %q; encoding/json decodes it to %q", b, s)
		}
	})
}
