package cache

import (
	"fmt"
	"hash/maphash"
	"slices"
	"sync/atomic"
	"unsafe"
)

// lookup is what a Get of one instance (and caller) reads, in one
// GetMulti: the entry key, then the generation keys.
type lookup struct {
	msg    string   // the instance's canonical form, user included
	scopes []string // the Instance.Scopes the keys were derived for
	// keys are the entry key, the context generation, one generation per
	// scope (of the instance's value, or of its lack of the parameter), and
	// the user generation when there is a user.
	keys []string
	// mortal tells, per generation (keys[1:]), whether it expires: those
	// of a parameter's value and of a user, whose number grows with the
	// data, do; those of the context and of a parameter's lack, whose
	// number the code fixes, do not.
	mortal []bool
	// extend are the keys of the mortal generations, which a store extends
	// so that they outlive the entry.
	extend []string
}

// The lookup memo is a set-associative table: lookupSets sets of
// lookupWays slots. A slot, once filled, is never replaced, so the memo
// keeps the first lookups of each set and a stream of ever-new instances
// costs a probe, not churn (like the Keyer's memo).
const (
	lookupSets = 1024
	lookupWays = 4
)

// lookupMemo remembers the keys of the instances looked up, so that a Get
// of a known instance derives nothing: it builds the canonical form, hashes
// it, and compares it with at most lookupWays remembered ones. Reads take no
// lock and allocate nothing.
type lookupMemo struct {
	seed  maphash.Seed
	slots [lookupSets * lookupWays]atomic.Pointer[lookup]
}

func newLookupMemo() *lookupMemo { return &lookupMemo{seed: maphash.MakeSeed()} }

// find returns the remembered lookup of msg and scopes, or nil.
func (m *lookupMemo) find(msg []byte, scopes []string) (*lookup, uint64) {
	h := maphash.Bytes(m.seed, msg)
	set := m.slots[(h%lookupSets)*lookupWays:][:lookupWays]
	for i := range set {
		l := set[i].Load()
		if l == nil {
			break // slots fill in order
		}
		if l.msg == string(msg) && sameScopes(l.scopes, scopes) {
			return l, h
		}
	}
	return nil, h
}

// add remembers l, whose msg hashes to h, if its set has a free slot.
func (m *lookupMemo) add(h uint64, l *lookup) {
	set := m.slots[(h%lookupSets)*lookupWays:][:lookupWays]
	for i := range set {
		if set[i].CompareAndSwap(nil, l) {
			return
		}
		if o := set[i].Load(); o.msg == l.msg && sameScopes(o.scopes, l.scopes) {
			return // added meanwhile by another Get
		}
	}
}

func sameScopes(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b) {
		return true
	}
	return slices.Equal(a, b)
}

// maxGens bounds the generations of a lookup, whose count is one byte of
// the stored value.
const maxGens = 255

// lookupOf returns the keys a Get of inst reads.
func (c *Cache) lookupOf(inst Instance) (*lookup, error) {
	d := c.keyer.derivers.Get().(*deriver)
	defer c.keyer.derivers.Put(d)
	msg, err := AppendCanonical(d.buf[:0], inst.Context, inst.Params, inst.Rev, inst.User)
	d.buf = msg
	if err != nil {
		return nil, err
	}
	l, h := c.memo.find(msg, inst.Scopes)
	if l != nil {
		return l, nil
	}
	n := 1 + len(inst.Scopes)
	if inst.User != "" {
		n++
	}
	if n > maxGens {
		return nil, fmt.Errorf("cache: context %q has %d scopes, more than %d", inst.Context, len(inst.Scopes), maxGens-2)
	}
	l = &lookup{msg: string(msg), scopes: slices.Clone(inst.Scopes), keys: make([]string, 0, 1+n),
		mortal: make([]bool, 1, n)}
	l.keys = append(l.keys, c.keyer.remember(d, entryPrefix, inst.Context, msg), ctxGenKey(inst.Context))
	for _, name := range inst.Scopes {
		var value string
		i := slices.IndexFunc(inst.Params, func(p Param) bool { return p.Name == name })
		if i >= 0 {
			value = inst.Params[i].Value
		}
		k, err := c.keyer.paramGenKey(inst.Context, name, value, i >= 0)
		if err != nil {
			return nil, err
		}
		l.keys = append(l.keys, k)
		l.mortal = append(l.mortal, i >= 0)
		if i >= 0 {
			l.extend = append(l.extend, k)
		}
	}
	if inst.User != "" {
		k, err := c.keyer.userGenKey(inst.Context, inst.User)
		if err != nil {
			return nil, err
		}
		l.keys = append(l.keys, k)
		l.mortal = append(l.mortal, true)
		l.extend = append(l.extend, k)
	}
	c.memo.add(h, l)
	return l, nil
}
