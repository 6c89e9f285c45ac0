package stompproto

import "sync"

// subKey is one interned head prefix: the constant start of a
// subscription's MESSAGE heads. Subscriptions with the same destination
// and id (as their sessions escape them) share one, so the bytes are held
// once and a fan-out worker builds one head per key and message (see
// headCache). The pointer is the identity: a cache that holds it keeps it
// from being reused for another prefix.
type subKey struct {
	prefix string
	refs   int32 // subscriptions holding it (guarded by keyTable.mu)
}

// keyTable interns head prefixes. It is leaner than package unique for
// keys that only one subscription uses (a map entry and a 32-byte record
// beside the prefix), and drops a key with its last subscription.
type keyTable struct {
	mu sync.Mutex
	m  map[string]*subKey
}

// acquire returns the key of prefix, with one more reference.
func (t *keyTable) acquire(prefix []byte) *subKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.m[string(prefix)]
	if k == nil {
		if t.m == nil {
			t.m = make(map[string]*subKey)
		}
		k = &subKey{prefix: string(prefix)}
		t.m[k.prefix] = k
	}
	k.refs++
	return k
}

// release drops a reference to k, and k from the table with its last.
func (t *keyTable) release(k *subKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k.refs--; k.refs == 0 {
		delete(t.m, k.prefix)
	}
}

// size returns the number of keys, for tests.
func (t *keyTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
