package cache

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Admission decides which misses a [Cache] stores ([Options.Admission]).
// It never changes what a lookup returns: a miss that is not stored is a
// miss again next time, and is computed again.
type Admission uint8

// The admission policies.
const (
	// AdmitAuto, the zero value and default, stores an instance's miss for
	// its full TTL when the doorkeeper ([Options.Doorkeeper]) remembers an
	// earlier miss of the instance (a second request). A first miss is
	// stored only within the context's budget ([Options.FirstMissRate] a
	// second), and then for at most [Options.FirstMissTTL]; beyond the
	// budget it is not stored, nor are its missing generations created.
	// While a context gets fewer new instances a second than the budget,
	// every miss is stored, so the second request of an instance is a hit.
	AdmitAuto Admission = iota
	// AdmitAlways stores every miss for its full TTL (no doorkeeper, no
	// budget): one request of a new instance is one entry.
	AdmitAlways
	// AdmitSecondRequest stores a miss only when the doorkeeper remembers
	// an earlier miss of the instance: an instance requested once is never
	// stored, one requested again is stored at its second miss and is a hit
	// from its third request on.
	AdmitSecondRequest
)

// The admission defaults ([Options]).
const (
	DefaultDoorkeeper    = 1 << 16 // misses remembered: 512 KiB
	DefaultFirstMissRate = 100     // first misses stored per context and second
	DefaultFirstMissTTL  = time.Minute
)

// String returns the policy's name: auto, always or second.
func (a Admission) String() string {
	switch a {
	case AdmitAuto:
		return "auto"
	case AdmitAlways:
		return "always"
	case AdmitSecondRequest:
		return "second"
	}
	return fmt.Sprintf("Admission(%d)", uint8(a))
}

// ParseAdmission returns the policy named by s (auto, always or second, as
// [Admission.String] names them; "" is auto).
func ParseAdmission(s string) (Admission, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return AdmitAuto, nil
	case "always":
		return AdmitAlways, nil
	case "second":
		return AdmitSecondRequest, nil
	}
	return 0, fmt.Errorf("cache: admission %q: want auto, always or second", s)
}

// doorkeeper remembers the entry keys of recent misses: a direct-mapped
// table of their 64-bit hashes, written and read with one atomic swap and
// no lock. A miss overwrites the slot its hash maps to, so the table holds
// at most one hash per slot and forgets the oldest first in the measure
// that new misses land on their slots: a stream of one-off instances
// flushes it (which only delays storing an instance by a request), never
// grows it. The hash seed is random, so no client can aim at a slot.
type doorkeeper struct {
	seed  maphash.Seed
	mask  uint64
	slots []atomic.Uint64
}

func newDoorkeeper(n int) *doorkeeper {
	if n < 2 {
		n = 2
	}
	n = 1 << bits.Len(uint(n-1)) // a power of two
	return &doorkeeper{seed: maphash.MakeSeed(), mask: uint64(n - 1), slots: make([]atomic.Uint64, n)}
}

// seen records a miss of key and reports whether the table remembered an
// earlier one.
func (d *doorkeeper) seen(key string) bool {
	h := maphash.String(d.seed, key) | 1 // never 0, an empty slot
	return d.slots[h&d.mask].Swap(h) == h
}

// maxBudgets bounds the contexts with a first-miss budget of their own;
// further contexts share one.
const maxBudgets = 1024

// budget counts the first misses of one context stored in the current
// second (a fixed one-second window).
type budget struct {
	mu  sync.Mutex
	sec int64
	n   int
}

// take reports whether a first miss may be stored now, and counts it.
func (b *budget) take(rate int, now time.Time) bool {
	s := now.Unix()
	b.mu.Lock()
	defer b.mu.Unlock()
	if s != b.sec {
		b.sec, b.n = s, 0
	}
	if b.n >= rate {
		return false
	}
	b.n++
	return true
}

// admitter applies an [Admission] to the misses of a Cache.
type admitter struct {
	policy   Admission
	door     *doorkeeper // nil with AdmitAlways
	rate     int
	firstTTL time.Duration
	now      func() time.Time

	budgets  sync.Map // context name → *budget
	nbudgets atomic.Int32
	shared   budget // of the contexts beyond maxBudgets
}

func newAdmitter(o Options) (*admitter, error) {
	a := &admitter{policy: o.Admission, rate: o.FirstMissRate, firstTTL: o.FirstMissTTL, now: time.Now}
	// (The budget and FirstMissTTL also apply, under every policy, to the
	// new entries of a context at its cap: Options.MaxEntriesPerContext.)
	if a.rate <= 0 {
		a.rate = DefaultFirstMissRate
	}
	if a.firstTTL <= 0 {
		a.firstTTL = DefaultFirstMissTTL
	}
	switch o.Admission {
	case AdmitAlways:
		return a, nil
	case AdmitAuto, AdmitSecondRequest:
	default:
		return nil, fmt.Errorf("cache: unknown admission %d", o.Admission)
	}
	if o.Doorkeeper <= 0 {
		o.Doorkeeper = DefaultDoorkeeper
	}
	a.door = newDoorkeeper(o.Doorkeeper)
	return a, nil
}

// admit records a miss of the entry key in context, and reports whether
// it may be stored and, when it may, the TTL it is stored for at most
// (zero: its own).
func (a *admitter) admit(context, key string) (bool, time.Duration) {
	if a.policy == AdmitAlways || a.door.seen(key) {
		return true, 0
	}
	if a.policy == AdmitSecondRequest || !a.budgetOf(context).take(a.rate, a.now()) {
		return false, 0
	}
	return true, a.firstTTL
}

func (a *admitter) budgetOf(context string) *budget {
	if b, ok := a.budgets.Load(context); ok {
		return b.(*budget)
	}
	if a.nbudgets.Load() >= maxBudgets {
		return &a.shared
	}
	b, loaded := a.budgets.LoadOrStore(context, &budget{})
	if !loaded {
		a.nbudgets.Add(1)
	}
	return b.(*budget)
}
