package portal

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/radmfa/radmfa/ldapauth"
)

// stage is how far a session has signed in.
type stage int

const (
	stageAnon   stage = iota // nobody: the sign-in form
	stageFactor              // password right; the second factor is asked for
	stageIn                  // signed in
)

// session is one browser's state. The fields below mu are read and written only by the
// request holding mu (guard locks it for the whole handler, so one browser's requests run one
// at a time); id, seen and elevated belong to sessions and change only under sessions.mu (and,
// for id, also under mu, so the handler may read it).
type session struct {
	mu sync.Mutex

	id       string
	seen     time.Time
	created  time.Time
	elevated bool // past the anonymous stage (set by rotate): kept when the table is full

	csrf     string
	stage    stage
	user     string // the normalised username, the store's key
	identity ldapauth.Identity
	admin    bool
	// mfa: a second factor was proved in this session (at sign-in, or by confirming a new
	// one). App passwords, devices and the admin page need it; a user without any factor
	// may only enrol one.
	mfa bool

	factor    string // stageFactor: "totp" or "sms"
	smsHash   []byte // stageFactor with sms: the texted code's hash
	smsSent   time.Time
	codeTries int

	pendingSecret []byte // TOTP enrolment awaiting its confirming code
	enrolTries    int
	pendingPhone  string // phone registration awaiting its texted code
	phoneHash     []byte
	phoneSent     time.Time
	phoneTries    int

	flash      string // shown once on the next page
	flashError bool
	reveal     string // a new app password, shown once
	revealName string
}

// setFlash queues a message for the next page.
func (s *session) setFlash(msg string, isErr bool) { s.flash, s.flashError = msg, isErr }

// sessions holds every session in memory.
type sessions struct {
	idle, max time.Duration
	limit     int
	rand      io.Reader

	mu        sync.Mutex
	m         map[string]*session
	lastSweep time.Time
}

// errTooManySessions: the table is full of live sessions (a flood of sign-in page loads).
var errTooManySessions = errors.New("portal: too many sessions")

func newSessions(idle, max time.Duration, limit int, rand io.Reader) *sessions {
	return &sessions{idle: idle, max: max, limit: limit, rand: rand, m: map[string]*session{}}
}

// token returns 256 random bits, base64url.
func (ss *sessions) token() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(ss.rand, b); err != nil {
		return "", fmt.Errorf("portal: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create starts an anonymous session.
func (ss *sessions) create(now time.Time) (*session, error) {
	id, err := ss.token()
	if err != nil {
		return nil, err
	}
	csrf, err := ss.token()
	if err != nil {
		return nil, err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweepLocked(now, false)
	if len(ss.m) >= ss.limit {
		ss.sweepLocked(now, true)
	}
	if len(ss.m) >= ss.limit && !ss.evictAnonLocked() {
		return nil, errTooManySessions
	}
	s := &session{id: id, csrf: csrf, created: now, seen: now}
	ss.m[id] = s
	return s, nil
}

// get returns the live session with id and marks it used; expired reports a session that
// existed but timed out (it is removed).
func (ss *sessions) get(id string, now time.Time) (s *session, expired bool) {
	if id == "" {
		return nil, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if ok && ss.dead(s, now) {
		delete(ss.m, id)
		s, ok, expired = nil, false, true
	}
	ss.sweepLocked(now, false) // after the lookup, so an expired session is told apart from none
	if !ok {
		return nil, expired
	}
	s.seen = now
	return s, false
}

// rotate gives s a new ID and CSRF token (after each sign-in step, so an ID planted or seen
// before cannot ride on it). The caller holds s.mu.
func (ss *sessions) rotate(s *session) error {
	id, err := ss.token()
	if err != nil {
		return err
	}
	csrf, err := ss.token()
	if err != nil {
		return err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, s.id)
	s.id, s.csrf, s.elevated = id, csrf, true
	ss.m[id] = s
	return nil
}

// evictAnonLocked drops the least recently used session that has not signed in, so a flood
// of sign-in page loads cannot push out the users who are signed in. It reports whether one
// was dropped.
func (ss *sessions) evictAnonLocked() bool {
	var oldest *session
	for _, s := range ss.m {
		if !s.elevated && (oldest == nil || s.seen.Before(oldest.seen)) {
			oldest = s
		}
	}
	if oldest == nil {
		return false
	}
	delete(ss.m, oldest.id)
	return true
}

// drop ends s. The caller holds s.mu.
func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, s.id)
}

// count returns the number of sessions held (for tests).
func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

func (ss *sessions) dead(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= ss.idle || now.Sub(s.created) >= ss.max
}

// sweepLocked removes dead sessions, at most once a minute unless forced.
func (ss *sessions) sweepLocked(now time.Time, force bool) {
	if !force && now.Sub(ss.lastSweep) < time.Minute {
		return
	}
	ss.lastSweep = now
	for id, s := range ss.m {
		if ss.dead(s, now) {
			delete(ss.m, id)
		}
	}
}
