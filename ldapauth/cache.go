package ldapauth

import (
	"sync"
	"time"
)

// identityCache remembers recently found entries (DN, attributes, groups) for a short TTL, so a
// sign-in costs one bind instead of a search, a bind and maybe a group search. The password
// bind always goes to the directory: a wrong, changed or expired password, a disabled or
// deleted account is seen at once. What can be stale for up to the TTL is what the search
// returned: group membership (and so policy and reply attributes), display name, mail and
// phone, and a renamed entry's DN.
type identityCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[string]cachedIdentity
}

type cachedIdentity struct {
	id      Identity
	expires time.Time
}

func newIdentityCache(ttl time.Duration, max int) *identityCache {
	if ttl <= 0 {
		return nil
	}
	return &identityCache{ttl: ttl, max: max, now: time.Now, m: make(map[string]cachedIdentity)}
}

func (c *identityCache) get(username string) (Identity, bool) {
	if c == nil {
		return Identity{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[username]
	if !ok {
		return Identity{}, false
	}
	if !c.now().Before(e.expires) {
		delete(c.m, username)
		return Identity{}, false
	}
	return e.id, true
}

func (c *identityCache) put(username string, id Identity) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Full: drop the expired entries, and if that frees nothing, start over. Simpler than
		// an LRU and the cost is one miss per entry.
		now := c.now()
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[username] = cachedIdentity{id: id, expires: c.now().Add(c.ttl)}
}

func (c *identityCache) forget(username string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, username)
	c.mu.Unlock()
}
