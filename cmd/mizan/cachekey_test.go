package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestCacheKeyVectors prints the key of every shared vector whose secret a
// server would accept, and checks it byte for byte.
func TestCacheKeyVectors(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/vectors/cache-keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cases []struct {
			Name    string            `json:"name"`
			Secret  string            `json:"secret"`
			Context string            `json:"context"`
			Params  map[string]string `json:"params"`
			User    *string           `json:"user"`
			Rev     int               `json:"rev"`
			Key     string            `json:"key"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range doc.Cases {
		if len(c.Secret) < 32 {
			continue
		}
		args := []string{"cache-key", "--secret", c.Secret, "--context", c.Context, "--rev", itoa(c.Rev)}
		for k, v := range c.Params {
			args = append(args, "--param", k+"="+v)
		}
		if c.User != nil {
			args = append(args, "--user", *c.User)
		}
		var out, errOut bytes.Buffer
		if code := run(args, nil, &out, &errOut); code != 0 || out.String() != c.Key+"\n" {
			t.Errorf("%s: exit %d, stdout %q (stderr %q), want %q", c.Name, code, out.String(), errOut.String(), c.Key)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d vectors checked", checked)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestCacheKeyValueWithEquals(t *testing.T) {
	var a, b bytes.Buffer
	run([]string{"cache-key", "--secret", strings.Repeat("k", 32), "--context", "search", "--param", "q=a=b"}, nil, &a, &bytes.Buffer{})
	run([]string{"cache-key", "--secret", strings.Repeat("k", 32), "--context", "search", "--param", "q=a"}, nil, &b, &bytes.Buffer{})
	if a.Len() == 0 || a.String() == b.String() {
		t.Errorf("the value after the first '=' was lost: %q vs %q", a.String(), b.String())
	}
}

func TestCacheKeyErrors(t *testing.T) {
	secret := strings.Repeat("k", 32)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"cache-key", "--secret", "short", "--context", "user"}, "at least 32 bytes"},
		{[]string{"cache-key", "--secret", secret}, "--context is required"},
		{[]string{"cache-key", "--secret", secret, "--context", "u", "--param", "novalue"}, "name=value"},
		{[]string{"cache-key", "--secret", secret, "--context", "u", "--param", "a=1", "--param", "a=2"}, "given twice"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		code := run(c.args, nil, &out, &errOut)
		if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", c.args, code, out.String(), errOut.String())
		}
	}
}
