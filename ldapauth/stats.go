package ldapauth

import "time"

// PoolStats is one URL's connection pool and failure count at one moment, for metrics.
type PoolStats struct {
	URL   string
	Size  int // most connections open at once (Config.PoolSize)
	InUse int // handed to a request, or being dialled
	Idle  int // open and waiting in the pool
	// Errors counts the times this URL failed a request or a Ping since New: network errors,
	// timeouts, a refused service bind. Users' wrong passwords and requests cancelled by their
	// caller do not count.
	Errors uint64
	// Down: the URL failed recently and other URLs are tried first until the backoff ends.
	Down bool
}

// Stats reports every URL's pool, in configured order. It takes one short lock per URL and is
// safe to call at any time, including after Close.
func (d *Directory) Stats() []PoolStats {
	now := time.Now().UnixNano()
	out := make([]PoolStats, 0, len(d.servers))
	for _, s := range d.servers {
		inUse, idle := s.pool.counts()
		out = append(out, PoolStats{
			URL: s.url, Size: s.pool.size, InUse: inUse, Idle: idle,
			Errors: s.failures.Load(), Down: s.downUntil.Load() > now,
		})
	}
	return out
}
