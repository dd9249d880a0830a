package engine

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	rad "github.com/radmfa/radmfa/radius"
	"github.com/radmfa/radmfa/store"
)

// record logs the decision once, as one structured line, and queues its audit row.
func (e *Engine) record(ctx context.Context, r request, d decision) {
	dur := e.now().Sub(d.start)
	lvl := zerolog.InfoLevel
	if d.result == ResultReject {
		lvl = zerolog.WarnLevel
	}
	if d.reason == ReasonFailOpen {
		lvl = zerolog.WarnLevel
	}
	if d.reason == ReasonInternalError || d.reason == ReasonStoreDown || d.reason == ReasonDirectoryDown {
		lvl = zerolog.ErrorLevel
	}
	ev := e.log.WithLevel(lvl).
		Str("user", r.user).
		Str("nas", r.Client.Name).
		Str("client_ip", r.Remote.Addr().String()).
		Str("result", d.result).
		Str("reason", d.reason).
		Int("leg", d.leg).
		Dur("duration", dur)
	if d.factor != "" {
		ev = ev.Str("factor", d.factor)
	}
	if r.typed != "" && r.typed != r.user && d.reason != ReasonBadUsername {
		ev = ev.Str("typed_user", r.typed)
	}
	if d.rule != "" {
		ev = ev.Str("rule", d.rule)
	}
	if len(d.groups) > 0 {
		ev = ev.Strs("groups", d.groups)
	}
	if r.callingID != "" {
		ev = ev.Str("calling_station_id", r.callingID)
	}
	if r.nasID != "" {
		ev = ev.Str("nas_identifier", r.nasID)
	}
	if d.detail != "" {
		ev = ev.Str("detail", d.detail)
	}
	if d.err != nil {
		ev = ev.AnErr("error", d.err)
	}
	ev.Msg("decision")
	e.opts.Observer.Decision(r.Client.Name, d.result, d.reason, dur)

	e.audit.add(store.AuditEvent{
		Time: e.now(), Node: e.opts.Node, Kind: "auth", Username: r.user, NAS: r.Client.Name,
		ClientIP: r.Remote.Addr().String(), CallingStationID: r.callingID, Factor: d.factor,
		Result: d.result, Reason: d.reason, Detail: d.detail,
	})
}

// accounting answers Accounting-Request (so VPNs that send it log no errors) and records it.
func (e *Engine) accounting(_ context.Context, r *rad.Request) *radius.Packet {
	p := r.Packet
	status := rfc2866.AcctStatusType_Get(p)
	user := ""
	if names, _ := rfc2865.UserName_Gets(p); len(names) == 1 && validUsername(string(names[0])) {
		user = string(names[0])
	}
	e.audit.add(store.AuditEvent{
		Time: e.now(), Node: e.opts.Node, Kind: "accounting", Username: user, NAS: r.Client.Name,
		ClientIP: r.Remote.Addr().String(), Result: status.String(), Reason: ReasonAccounting,
		Detail: "session " + rfc2866.AcctSessionID_GetString(p),
	})
	return p.Response(radius.CodeAccountingResponse)
}

// auditWriter writes audit rows off the request path, in order, so a slow disk adds no
// latency to a sign-in. A full queue blocks briefly rather than losing rows.
type auditWriter struct {
	st   store.Store
	log  zerolog.Logger
	ch   chan store.AuditEvent
	done chan struct{}
	once sync.Once
}

func newAuditWriter(st store.Store, log zerolog.Logger) *auditWriter {
	w := &auditWriter{st: st, log: log, ch: make(chan store.AuditEvent, 8192), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *auditWriter) add(ev store.AuditEvent) {
	select {
	case w.ch <- ev:
		return
	default:
	}
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case w.ch <- ev:
	case <-t.C:
		w.log.Error().Str("user", ev.Username).Str("reason", ev.Reason).Msg("engine: audit queue full; row not written")
	}
}

// auditLinger is how long the writer waits for more rows before it commits a batch. Every
// commit invalidates the page caches of the store's readers (SQLite) and costs a round trip
// (PostgreSQL); under load a short wait turns many small commits into one.
const auditLinger = 20 * time.Millisecond

// run writes rows in batches: a batch is committed when it is full or auditLinger after its
// first row, so the database commits a few dozen times a second at most instead of once per
// sign-in. Rows are never held longer than that.
func (w *auditWriter) run() {
	defer close(w.done)
	batcher, _ := w.st.(store.AuditBatcher)
	batch := make([]store.AuditEvent, 0, 256)
	linger := time.NewTimer(auditLinger)
	linger.Stop()
	for ev := range w.ch {
		batch = append(batch[:0], ev)
		linger.Reset(auditLinger)
	gather:
		for len(batch) < cap(batch) {
			select {
			case next, ok := <-w.ch:
				if !ok {
					break gather
				}
				batch = append(batch, next)
			case <-linger.C:
				break gather
			}
		}
		linger.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		if batcher != nil && len(batch) > 1 {
			err = batcher.AuditBatch(ctx, batch)
		} else {
			for _, e := range batch {
				if err = w.st.Audit(ctx, e); err != nil {
					break
				}
			}
		}
		cancel()
		if err != nil {
			w.log.Error().Err(err).Int("rows", len(batch)).Msg("engine: write audit rows")
		}
	}
}

func (w *auditWriter) close(ctx context.Context) error {
	w.once.Do(func() { close(w.ch) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
