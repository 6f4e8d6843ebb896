package cache

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// MinSecretLen is the shortest cache secret a server accepts, in bytes.
const MinSecretLen = 32

// Param is one context parameter with its wire string (docs/spec.md §4).
type Param struct {
	Name  string
	Value string
}

// ErrShortSecret is returned for a cache secret shorter than [MinSecretLen].
var ErrShortSecret = fmt.Errorf("cache: secret must be at least %d bytes", MinSecretLen)

// AppendCanonical appends the canonical form of a context instance, the HMAC
// message of docs/spec.md §6:
//
//	{"c":<context>,"p":{<params sorted by name>},"r":<rev>[,"u":<user>]}
//
// without whitespace, strings escaped as ECMAScript JSON.stringify escapes
// them (only '"', '\' and control characters). params must be sorted by name
// and free of duplicates; user "" means an anonymous or shared entry. It
// reports an error for a string that is not valid UTF-8, which no other
// implementation could reproduce.
func AppendCanonical(dst []byte, context string, params []Param, rev int, user string) ([]byte, error) {
	dst = append(dst, `{"c":`...)
	var err error
	if dst, err = appendJSString(dst, context); err != nil {
		return dst, err
	}
	dst = append(dst, `,"p":{`...)
	for i, p := range params {
		if i > 0 {
			if params[i-1].Name >= p.Name {
				return dst, errors.New("cache: params are not sorted by name, or repeat a name")
			}
			dst = append(dst, ',')
		}
		if dst, err = appendJSString(dst, p.Name); err != nil {
			return dst, err
		}
		dst = append(dst, ':')
		if dst, err = appendJSString(dst, p.Value); err != nil {
			return dst, err
		}
	}
	dst = append(dst, `},"r":`...)
	dst = strconv.AppendInt(dst, int64(rev), 10)
	if user != "" {
		dst = append(dst, `,"u":`...)
		if dst, err = appendJSString(dst, user); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendJSString appends s as JSON.stringify writes it. It scans s once:
// UTF-8 is validated only when s has a byte beyond ASCII.
func appendJSString(dst []byte, s string) ([]byte, error) {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	var or byte // of every byte: 0x80 set when one is beyond ASCII
	for i := 0; i < len(s); i++ {
		c := s[i]
		or |= c
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	if or >= 0x80 && !utf8.ValidString(s) {
		return dst, fmt.Errorf("cache: %q is not valid UTF-8", s)
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// SortParams sorts params by name in place and reports an error when a name
// repeats.
func SortParams(params []Param) error {
	slices.SortFunc(params, func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(params); i++ {
		if params[i].Name == params[i-1].Name {
			return fmt.Errorf("cache: param %q given twice", params[i].Name)
		}
	}
	return nil
}

// Derive returns the cache key of a context instance under secret:
// "ctx:" + context + ":" + the lower-case hex HMAC-SHA256 of the canonical
// form ([AppendCanonical]). It accepts a secret of any length, for checking
// vectors; servers use a [Keyer], which refuses short secrets.
func Derive(secret []byte, context string, params []Param, rev int, user string) (string, error) {
	d := &deriver{mac: hmac.New(sha256.New, secret)}
	return d.key(context, params, rev, user)
}

// deriver holds what one key derivation needs, to be reused.
type deriver struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func (d *deriver) key(context string, params []Param, rev int, user string) (string, error) {
	msg, err := AppendCanonical(d.buf[:0], context, params, rev, user)
	d.buf = msg
	if err != nil {
		return "", err
	}
	return d.sign(entryPrefix, context, msg), nil
}

// sign returns prefix + context + ":" + the hex HMAC of msg, which must be
// d.buf.
func (d *deriver) sign(prefix, context string, msg []byte) string {
	d.mac.Reset()
	d.mac.Write(msg)
	sum := d.mac.Sum(d.sum[:0])
	// Build "<prefix><context>:<hex>" after the message in the same buffer.
	out := append(msg[len(msg):], prefix...)
	out = append(out, context...)
	out = append(out, ':')
	out = hex.AppendEncode(out, sum)
	return string(out)
}

// Keyer derives cache keys under one secret. It is safe for concurrent use.
// It remembers the keys of the first few thousand canonical forms it
// derives, since the same instances are looked up again and again and the
// HMAC is most of a derivation's cost; past that many it derives the others
// every time, so a stream of ever-new instances costs a lookup, not churn.
type Keyer struct {
	derivers sync.Pool
	memo     sync.Map     // canonical form (string) → key
	memoLen  atomic.Int64 // entries in memo
}

// memoMax bounds Keyer.memo.
const memoMax = 4096

// NewKeyer returns a Keyer for secret, which must be at least
// [MinSecretLen] bytes.
func NewKeyer(secret []byte) (*Keyer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("%w (got %d)", ErrShortSecret, len(secret))
	}
	s := slices.Clone(secret)
	return &Keyer{derivers: sync.Pool{New: func() any {
		return &deriver{mac: hmac.New(sha256.New, s), buf: make([]byte, 0, 512)}
	}}}, nil
}

// Key returns the key of a context instance; params must be sorted by name
// ([SortParams]) and user is "" for an anonymous or shared entry.
func (k *Keyer) Key(context string, params []Param, rev int, user string) (string, error) {
	d := k.derivers.Get().(*deriver)
	defer k.derivers.Put(d)
	msg, err := AppendCanonical(d.buf[:0], context, params, rev, user)
	d.buf = msg
	if err != nil {
		return "", err
	}
	return k.remember(d, entryPrefix, context, msg), nil
}

// remember returns the key of message msg (d.buf): the memo's, or
// d.sign(prefix, context, msg). Every message names its kind of key (entry
// messages start {"c":, generation messages {"g":), so that the memo maps
// each message to one key whatever prefix a caller would pass.
func (k *Keyer) remember(d *deriver, prefix, context string, msg []byte) string {
	if key, ok := k.memo.Load(string(msg)); ok {
		return key.(string)
	}
	key := d.sign(prefix, context, msg)
	if k.memoLen.Load() < memoMax {
		if _, loaded := k.memo.LoadOrStore(string(msg), key); !loaded {
			k.memoLen.Add(1)
		}
	}
	return key
}

// Key prefixes. Entry keys are "ctx:<context>:<hex>" (docs/spec.md §6);
// generation keys start with "gen:", so that no generation key is an entry
// key or starts with a [ContextPrefix].
const (
	entryPrefix    = "ctx:"
	ctxGenPrefix   = "gen:c:" // + context
	paramGenPrefix = "gen:p:" // + context + ":" + hex HMAC
	userGenPrefix  = "gen:u:" // + context + ":" + hex HMAC
)

// appendParamGen appends the HMAC message of a parameter generation:
//
//	{"g":"p","c":<context>,"n":<name>,"v":<value>}  instances whose parameter name is value
//	{"g":"p","c":<context>,"n":<name>}              instances without the parameter
func appendParamGen(dst []byte, context, name, value string, has bool) ([]byte, error) {
	dst = append(dst, `{"g":"p","c":`...)
	var err error
	if dst, err = appendJSString(dst, context); err != nil {
		return dst, err
	}
	dst = append(dst, `,"n":`...)
	if dst, err = appendJSString(dst, name); err != nil {
		return dst, err
	}
	if has {
		dst = append(dst, `,"v":`...)
		if dst, err = appendJSString(dst, value); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendUserGen appends the HMAC message of a user generation:
//
//	{"g":"u","c":<context>,"u":<user>}
func appendUserGen(dst []byte, context, user string) ([]byte, error) {
	dst = append(dst, `{"g":"u","c":`...)
	var err error
	if dst, err = appendJSString(dst, context); err != nil {
		return dst, err
	}
	dst = append(dst, `,"u":`...)
	if dst, err = appendJSString(dst, user); err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// paramGenKey returns the key of the generation of context's instances
// whose parameter name is value, or with has false, that lack it:
// "gen:p:<context>:<hex HMAC>", which shows neither name nor value.
func (k *Keyer) paramGenKey(context, name, value string, has bool) (string, error) {
	d := k.derivers.Get().(*deriver)
	defer k.derivers.Put(d)
	msg, err := appendParamGen(d.buf[:0], context, name, value, has)
	d.buf = msg
	if err != nil {
		return "", err
	}
	return k.remember(d, paramGenPrefix, context, msg), nil
}

// userGenKey returns the key of the generation of user's entries of
// context: "gen:u:<context>:<hex HMAC>", which does not show the user.
func (k *Keyer) userGenKey(context, user string) (string, error) {
	d := k.derivers.Get().(*deriver)
	defer k.derivers.Put(d)
	msg, err := appendUserGen(d.buf[:0], context, user)
	d.buf = msg
	if err != nil {
		return "", err
	}
	return k.remember(d, userGenPrefix, context, msg), nil
}

// ctxGenKey returns the key of a context's generation: "gen:c:<context>".
func ctxGenKey(context string) string { return ctxGenPrefix + context }

// ContextPrefix returns the prefix shared by every entry key of a context,
// for the cleanup after a broad purge. No generation key starts with it.
func ContextPrefix(context string) string { return entryPrefix + context + ":" }
