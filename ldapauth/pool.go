package ldapauth

import (
	"context"
	"errors"
	"slices"
	"sync"
)

var errPoolClosed = errors.New("ldapauth: closed")

// pool holds the connections to one URL. At most size are open at once, idle or in use;
// service searches and user binds share them, so every request holds at most one connection
// at a time and a burst can never deadlock. Callers beyond size wait in FIFO order (or until
// their ctx ends) and are handed a connection, or a free slot to dial into, by put.
type pool struct {
	size int
	dial func(ctx context.Context) (*conn, error)

	done chan struct{} // closed by close: wakes the waiters

	mu      sync.Mutex
	open    int     // connections open or being dialled; never above size
	idle    []*conn // most recently used last
	waiters []chan *conn
	closed  bool
}

func newPool(size int, dial func(ctx context.Context) (*conn, error)) *pool {
	return &pool{size: size, dial: dial, done: make(chan struct{})}
}

// get returns a connection for a service search (wantService) or a user bind. It prefers an
// idle one already in that state, then a new one, then any idle one; the caller binds it as
// needed and must give it back with put.
func (p *pool) get(ctx context.Context, wantService bool) (*conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPoolClosed
	}
	dead := p.dropDeadLocked()
	c := p.takeIdleLocked(func(c *conn) bool { return c.service == wantService })
	if c != nil || len(dead) > 0 {
		p.mu.Unlock()
		for _, d := range dead {
			d.close() // already closing: this only waits for go-ldap's goroutines
		}
		if c != nil {
			return c, nil
		}
		p.mu.Lock()
	}
	if p.open < p.size {
		p.open++
		p.mu.Unlock()
		return p.dialSlot(ctx)
	}
	if c := p.takeIdleLocked(func(*conn) bool { return true }); c != nil {
		p.mu.Unlock()
		return c, nil
	}
	w := make(chan *conn, 1)
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	select {
	case c := <-w:
		if c == nil {
			return p.dialSlot(ctx)
		}
		return c, nil
	case <-ctx.Done():
		p.abandon(w)
		return nil, ctx.Err()
	case <-p.done:
		p.abandon(w)
		return nil, errPoolClosed
	}
}

// abandon withdraws a waiter whose ctx ended; whatever was handed to it meanwhile is passed on.
func (p *pool) abandon(w chan *conn) {
	p.mu.Lock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if c := <-w; c != nil {
		p.put(c)
	} else {
		p.release()
	}
}

// dialSlot fills a slot the caller already holds; on failure the slot is given up.
func (p *pool) dialSlot(ctx context.Context) (*conn, error) {
	c, err := p.dial(ctx)
	if err != nil {
		p.release()
		return nil, err
	}
	return c, nil
}

// put gives c back: to the first waiter, to the idle list, or closed when it is broken.
func (p *pool) put(c *conn) {
	p.mu.Lock()
	if p.closed || !c.usable() {
		p.mu.Unlock()
		c.close()
		p.release()
		return
	}
	c.reused = true
	if len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.mu.Unlock()
		w <- c
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// release gives up one slot: to the first waiter (who dials into it) or back to the pool.
func (p *pool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.waiters) > 0 && !p.closed {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w <- nil
		return
	}
	p.open--
}

// flush closes the idle connections: after a network failure on this URL they are suspect,
// and a silently dropped connection would otherwise cost a full timeout each.
func (p *pool) flush() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
		p.release()
	}
}

// close closes the idle connections and makes get fail; connections in use are closed when
// they come back.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.open -= len(idle)
	p.mu.Unlock()
	close(p.done)
	for _, c := range idle {
		c.close()
	}
}

// counts reports the connections handed out (or being dialled) and those idle, for Stats.
func (p *pool) counts() (inUse, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	idle = len(p.idle)
	return max(p.open-idle, 0), idle
}

// takeIdleLocked removes and returns the most recently used idle connection matching ok.
func (p *pool) takeIdleLocked(ok func(*conn) bool) *conn {
	for i := len(p.idle) - 1; i >= 0; i-- {
		if c := p.idle[i]; ok(c) {
			p.idle = slices.Delete(p.idle, i, i+1)
			return c
		}
	}
	return nil
}

// dropDeadLocked removes and returns the idle connections the server has closed meanwhile
// (go-ldap notices the EOF and marks them closing); their slots are freed.
func (p *pool) dropDeadLocked() []*conn {
	var dead []*conn
	p.idle = slices.DeleteFunc(p.idle, func(c *conn) bool {
		if c.lc.IsClosing() {
			dead = append(dead, c)
			p.open--
			return true
		}
		return false
	})
	return dead
}
