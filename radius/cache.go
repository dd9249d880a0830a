package radius

import (
	"crypto/sha256"
	"sync"
	"time"
)

// replyCache remembers recent requests so a retransmit is answered with the same bytes and is
// not processed again (RFC 5080 §2.2.2): no second LDAP bind, no second SMS, no second counted
// failure. A key is the client's source address and port, the code, Identifier and Request
// Authenticator — a NAS keeps all of them when it retransmits and changes the authenticator for
// a new request. A packet under a known key whose bytes differ is no retransmit: it is dropped,
// never answered with the first one's reply.
type replyCache struct {
	window time.Duration
	max    int

	mu      sync.Mutex
	entries map[string]*cacheEntry
	order   []cacheKeyTime // insertion order, for expiry without scanning the map
	head    int            // order[:head] has expired
}

type cacheEntry struct {
	reply   []byte // nil while the first copy is still being processed
	sum     [sha256.Size]byte
	expires time.Time
}

// verdict is what begin decides for a packet.
type verdict int

const (
	fresh     verdict = iota // process it
	duplicate                // a retransmit: answer with the stored reply (nil: still in flight)
	conflict                 // same key, other bytes: drop it
)

type cacheKeyTime struct {
	key     string
	expires time.Time
}

func newReplyCache(window time.Duration, max int) *replyCache {
	return &replyCache{window: window, max: max, entries: make(map[string]*cacheEntry)}
}

// begin registers a request whose bytes hash to sum. fresh: process it. duplicate: a
// retransmit; reply is the stored answer, or nil while the first copy is still being processed
// (drop it: the reply to the first copy is on its way). conflict: drop it.
func (c *replyCache) begin(key string, sum [sha256.Size]byte, now time.Time) (reply []byte, v verdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked(now)
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		if e.sum != sum {
			return nil, conflict
		}
		return e.reply, duplicate
	}
	if len(c.entries) >= c.max {
		// Under a flood, process without caching rather than grow without bound.
		return nil, fresh
	}
	exp := now.Add(c.window)
	c.entries[key] = &cacheEntry{sum: sum, expires: exp}
	c.order = append(c.order, cacheKeyTime{key, exp})
	return nil, fresh
}

// lookup returns the stored reply for a retransmit (same key, same bytes) if it is answered
// and not expired, without registering anything.
func (c *replyCache) lookup(key string, sum [sha256.Size]byte, now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) && e.sum == sum {
		return e.reply
	}
	return nil
}

// finish stores the reply for key (nil: the request was dropped; forget it so a retransmit is
// processed afresh).
func (c *replyCache) finish(key string, reply []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return
	}
	if reply == nil {
		delete(c.entries, key)
		return
	}
	e.reply = reply
}

func (c *replyCache) expireLocked(now time.Time) {
	for ; c.head < len(c.order) && !now.Before(c.order[c.head].expires); c.head++ {
		k := c.order[c.head].key
		if e, ok := c.entries[k]; ok && !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	// Compact once the expired prefix dominates, so the cost stays amortised O(1).
	if c.head > 1024 && c.head*2 > len(c.order) {
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}
