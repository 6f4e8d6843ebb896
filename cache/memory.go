package cache

import (
	"container/list"
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is an in-process [Backend]: entries expire after their TTL and the
// least recently used ones are evicted beyond a bound on entries and bytes.
// It is the default when no Redis is configured, and suits one instance
// (entries are not shared between processes).
type Memory struct {
	mu         sync.Mutex
	items      map[string]*list.Element
	lru        list.List // front: most recently used
	bytes      int64
	maxEntries int
	maxBytes   int64
	defaultTTL time.Duration
	now        func() time.Time
}

type memItem struct {
	key     string
	value   []byte
	expires time.Time // zero: never
}

// MemoryOptions bounds a [Memory] backend. Zero values mean 10,000 entries,
// 64 MiB and a 24-hour default TTL.
type MemoryOptions struct {
	MaxEntries int
	MaxBytes   int64
	DefaultTTL time.Duration
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-process backend.
func NewMemory(o MemoryOptions) *Memory {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Memory{items: map[string]*list.Element{}, maxEntries: o.MaxEntries, maxBytes: o.MaxBytes, defaultTTL: o.DefaultTTL, now: o.Now}
}

// GetMulti implements [Backend].
func (m *Memory) GetMulti(_ context.Context, keys ...string) ([][]byte, error) {
	return m.getInto(make([][]byte, len(keys)), keys), nil
}

// getInto reads keys into out, which has their length, and returns it: the
// cache's lookups use it with a buffer of their own.
func (m *Memory) getInto(out [][]byte, keys []string) [][]byte {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		el, ok := m.items[k]
		if !ok {
			continue
		}
		it := el.Value.(*memItem)
		if !it.expires.IsZero() && !now.Before(it.expires) {
			m.remove(el)
			continue
		}
		m.lru.MoveToFront(el)
		out[i] = it.value
	}
	return out
}

// Set implements [Backend].
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration, extend ...string) error {
	m.setOwned(key, slices.Clone(value), ttl, extend)
	return nil
}

// setOwned is Set of a value nobody else holds, which is kept as is: the
// cache's stores use it with the buffer they build.
func (m *Memory) setOwned(key string, value []byte, ttl time.Duration, extend []string) {
	if ttl <= 0 {
		ttl = m.defaultTTL
	}
	now := m.now()
	expires := now.Add(ttl)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(key, value, expires)
	for _, k := range extend {
		el, ok := m.items[k]
		if !ok {
			continue
		}
		it := el.Value.(*memItem)
		if it.expires.IsZero() {
			continue // no expiry: kept
		}
		if !now.Before(it.expires) {
			m.remove(el) // expired: absent
			continue
		}
		if it.expires.Before(expires) {
			it.expires = expires
		}
		// Used with the entry: as recent as it in the LRU, since evicting
		// it would make the entry unreachable.
		m.lru.MoveToFront(el)
	}
}

// SetPermanent implements [Backend].
func (m *Memory) SetPermanent(_ context.Context, key string, value []byte) error {
	m.put(key, value, time.Time{})
	return nil
}

// SetNX implements [Backend].
func (m *Memory) SetNX(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	value = slices.Clone(value)
	now := m.now()
	var expires time.Time // zero: never
	if ttl > 0 {
		expires = now.Add(ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		if it := el.Value.(*memItem); it.expires.IsZero() || now.Before(it.expires) {
			return false, nil
		}
	}
	m.putLocked(key, value, expires)
	return true, nil
}

func (m *Memory) put(key string, value []byte, expires time.Time) {
	value = slices.Clone(value)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(key, value, expires)
}

// putLocked stores value, which the caller no longer touches, under key.
func (m *Memory) putLocked(key string, value []byte, expires time.Time) {
	if el, ok := m.items[key]; ok {
		m.remove(el)
	}
	if int64(len(key)+len(value)) > m.maxBytes {
		return // larger than the whole cache: not stored, nothing evicted
	}
	m.items[key] = m.lru.PushFront(&memItem{key: key, value: value, expires: expires})
	m.bytes += int64(len(key) + len(value))
	for m.lru.Len() > m.maxEntries || m.bytes > m.maxBytes {
		m.remove(m.lru.Back())
	}
}

func (m *Memory) remove(el *list.Element) {
	it := m.lru.Remove(el).(*memItem)
	delete(m.items, it.key)
	m.bytes -= int64(len(it.key) + len(it.value))
}

// Delete implements [Backend].
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if el, ok := m.items[k]; ok {
			m.remove(el)
		}
	}
	return nil
}

// DeletePrefix implements [Backend].
func (m *Memory) DeletePrefix(_ context.Context, prefix string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, el := range m.items {
		if strings.HasPrefix(k, prefix) {
			m.remove(el)
		}
	}
	return nil
}

// Len returns the number of entries held, expired ones included until they
// are next touched.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// InProcess reports true: the memory backend does no I/O and cannot stall,
// so the cache does not time its operations.
func (m *Memory) InProcess() bool { return true }

// Ping implements [Backend]; a memory backend always answers.
func (m *Memory) Ping(context.Context) error { return nil }

// Close implements [Backend].
func (m *Memory) Close() error { return nil }

// DefaultTTL returns the lifetime of an entry stored with a zero TTL.
func (m *Memory) DefaultTTL() time.Duration { return m.defaultTTL }
