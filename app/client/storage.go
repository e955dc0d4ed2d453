package client

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Storage keeps small values as JSON under string keys, across page loads
// when it is the browser's. go-app's ctx.LocalStorage() satisfies it; so does
// MemoryStorage, for native clients and tests.
type Storage interface {
	// Get decodes the value stored under k into v. A missing key is not an
	// error: v is left unchanged.
	Get(k string, v any) error
	// Set stores v under k, replacing what was there.
	Set(k string, v any) error
	// Del removes k; a missing key is not an error.
	Del(k string)
}

// The keys a Session uses. They carry the "chat/" prefix because go-app reads
// every localStorage key at start (CleanupExpiredPersistedStates) and other
// code may store there too.
const (
	// keyIdentity holds the Identity from the last Joined.
	keyIdentity = "chat/identity"
	// keyOutboxPrefix, followed by the room (and "/" and a tab's id when
	// SessionConfig.Tab is set), holds that room's outbox.
	keyOutboxPrefix = "chat/outbox/"
	// keyRooms holds the rooms a person opened besides the first, in the
	// order they were opened, shared by the browser's tabs.
	keyRooms = "chat/rooms"
)

// keyLister is a Storage that can list its keys, as go-app's BrowserStorage
// and MemoryStorage can: a Session then adopts the outboxes that other tabs
// left behind.
type keyLister interface {
	ForEach(f func(k string))
}

// MemoryStorage is a Storage in memory: what it holds lasts as long as the
// value. Values go through JSON as in the browser, so a test sees the same
// round trip. It is safe for concurrent use. The zero value is empty and
// ready.
type MemoryStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Get implements Storage.
func (s *MemoryStorage) Get(k string, v any) error {
	s.mu.Lock()
	b, ok := s.m[k]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("get %q: %w", k, err)
	}
	return nil
}

// Set implements Storage.
func (s *MemoryStorage) Set(k string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("set %q: %w", k, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	s.m[k] = b
	return nil
}

// ForEach calls f with every key, in no particular order.
func (s *MemoryStorage) ForEach(f func(k string)) {
	s.mu.Lock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		f(k)
	}
}

// Del implements Storage.
func (s *MemoryStorage) Del(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
}
