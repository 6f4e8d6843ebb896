package session

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// sweepEvery is how many Creates pass between two sweeps of expired
// sessions in a [Memory] store.
const sweepEvery = 1024

// Memory is an in-process [Store]. Its sessions are lost when the process
// stops and are not seen by other processes: use it for one server process
// or for tests.
type Memory struct {
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]Session
	creates  int
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store. now returns the current time;
// nil means time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, sessions: map[string]Session{}}
}

// Create implements [Store].
func (m *Memory) Create(_ context.Context, s Session) error {
	if s.ID == "" {
		return fmt.Errorf("session: creating a session without an id")
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creates++
	if m.creates%sweepEvery == 0 {
		for id, old := range m.sessions {
			if !now.Before(old.Expires) {
				delete(m.sessions, id)
			}
		}
	}
	if !now.Before(s.Expires) {
		delete(m.sessions, s.ID)
		return nil
	}
	m.sessions[s.ID] = s
	return nil
}

// live returns the unexpired session id; m.mu is held.
func (m *Memory) live(id string) (Session, bool) {
	s, ok := m.sessions[id]
	if ok && !m.now().Before(s.Expires) {
		delete(m.sessions, id)
		return Session{}, false
	}
	return s, ok
}

// Get implements [Store].
func (m *Memory) Get(_ context.Context, id string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.live(id)
	if !ok {
		return Session{}, ErrNotFound
	}
	return s, nil
}

// Rotate implements [Store].
func (m *Memory) Rotate(_ context.Context, id, old, new string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.live(id)
	switch {
	case !ok:
		return ErrNotFound
	case s.Refresh != old || old == "":
		delete(m.sessions, id)
		return ErrReused
	}
	s.Refresh, s.Expires = new, expires
	m.sessions[id] = s
	return nil
}

// Delete implements [Store].
func (m *Memory) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

// DeleteUser implements [Store].
func (m *Memory) DeleteUser(_ context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.sessions {
		if s.UserID == userID {
			delete(m.sessions, id)
		}
	}
	return nil
}

// Len returns the number of sessions held, expired ones not yet swept
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}
