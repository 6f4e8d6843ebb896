package ir

import (
	"reflect"
	"strconv"
	"strings"
)

// Pascal turns a name made of words separated by '_', '-', '.' or spaces
// (update_profile, user-settings, userProfile) into PascalCase
// (UpdateProfile, UserSettings, UserProfile). Bytes other than ASCII letters
// and digits separate words too. The result may be empty or start with a
// digit.
func Pascal(s string) string {
	var b strings.Builder
	upper := true
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			if upper {
				c -= 'a' - 'A'
			}
			b.WriteByte(c)
			upper = false
		case c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			b.WriteByte(c)
			upper = false
		default:
			upper = true
		}
	}
	return b.String()
}

// typeName makes s (already PascalCase) a valid IR type name.
func typeName(s string) string {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return "T" + s
	}
	return s
}

// goTypeBaseName returns the IR name a named Go type asks for: its name made
// exported, and for a generic instantiation the name followed by the words
// of its type arguments (Page[example.com/app.order] is PageOrder,
// Pair[string,[]int] is PairStringListInt).
func goTypeBaseName(t reflect.Type) string {
	name := t.Name()
	base, args, generic := strings.Cut(name, "[")
	if !generic {
		return typeName(Pascal(name))
	}
	return typeName(Pascal(base) + typeArgWords("["+args))
}

// typeArgWords turns the type-argument list of an instantiated generic
// type's name into PascalCase words: package paths are dropped, []T and
// [N]T read as List, *T as T, and every identifier is capitalized.
func typeArgWords(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '[':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j < len(s) && s[j] == ']' && i > 0 && isTypeStart(s, i) {
				b.WriteString("List")
				i = j + 1
				continue
			}
			i++
		case strings.IndexByte("]*,() ", c) >= 0:
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte("[]*,() ", s[j]) < 0 {
				j++
			}
			word := s[i:j]
			if k := strings.LastIndexByte(word, '/'); k >= 0 {
				word = word[k+1:]
			}
			if k := strings.LastIndexByte(word, '.'); k >= 0 {
				word = word[k+1:]
			}
			b.WriteString(Pascal(word))
			i = j
		}
	}
	return b.String()
}

// isTypeStart reports whether the '[' at s[i] starts a slice or array type
// rather than closing over a generic's arguments or a map key: it follows
// a '[', ',', '*', ']' or space.
func isTypeStart(s string, i int) bool {
	return strings.IndexByte("[,*] ", s[i-1]) >= 0
}

// namer hands out unique names.
type namer struct{ taken map[string]bool }

// claim returns name, or name followed by the smallest number from 2 that
// is not taken yet, and marks it taken.
func (n *namer) claim(name string) string {
	if n.taken == nil {
		n.taken = map[string]bool{}
	}
	out := name
	for i := 2; n.taken[out]; i++ {
		out = name + strconv.Itoa(i)
	}
	n.taken[out] = true
	return out
}

// pkgWord is the last element of a package path made PascalCase, used to
// tell apart types of one name from several packages.
func pkgWord(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		path = path[i+1:]
	}
	return Pascal(path)
}
