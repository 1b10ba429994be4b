package inventory

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

// ReserverOptions tune group commit.
type ReserverOptions struct {
	// MaxBatch is the most requests applied in one transaction (default 200).
	MaxBatch int
	// MaxWait is how long a batch waits for more requests once it has one
	// (default 1ms). It only waits while callers are known to be coming:
	// a lone caller is served at once.
	MaxWait time.Duration
	// Executors is how many batches may be in flight at once (default 1).
	// On a hot SKU more do not help: batches serialise on the balance row
	// lock (PostgreSQL) or the single writer (SQLite), and splitting the
	// callers among executors only makes each batch smaller.
	Executors int
}

// Reserver applies concurrent reservation requests by group commit: it
// collects them for up to MaxWait or MaxBatch requests and applies them in
// one transaction — one durable commit for many reservations. Each request
// is still all or nothing and gets its own answer; a shortage for one does
// not fail the others, and the ledger rows and guards are those of ReserveTx.
type Reserver struct {
	s       *Service
	opts    ReserverOptions
	ch      chan *pending
	inside  atomic.Int64 // callers inside Reserve
	held    atomic.Int64 // requests collected by executors, not yet answered
	quit    chan struct{}
	done    chan struct{}
	closeMu sync.Once

	batches atomic.Int64
	reqs    atomic.Int64
}

type pending struct {
	ctx   context.Context
	lines []ReserveLine
	res   chan error
}

// NewReserver starts a group-commit reserver; Close stops it.
func (s *Service) NewReserver(opts ReserverOptions) *Reserver {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 200
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = time.Millisecond
	}
	if opts.Executors <= 0 {
		opts.Executors = 1
	}
	r := &Reserver{s: s, opts: opts, ch: make(chan *pending, 4*opts.MaxBatch), quit: make(chan struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range opts.Executors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop()
		}()
	}
	go func() {
		wg.Wait()
		close(r.done)
	}()
	return r
}

// ErrClosed answers requests made after Close.
var ErrClosed = errs.E(errs.Unavailable, "reserver closed")

// Reserve reserves lines like ReserveTx, in a shared transaction that is
// committed before Reserve returns.
func (r *Reserver) Reserve(ctx context.Context, lines []ReserveLine) error {
	r.inside.Add(1)
	defer r.inside.Add(-1)
	p := &pending{ctx: ctx, lines: lines, res: make(chan error, 1)}
	select {
	case r.ch <- p:
	case <-r.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the request is answered even if ctx ends, because it may
	// already be committed: the caller must learn the outcome.
	return <-p.res
}

// Stats reports how many batches and requests were applied.
func (r *Reserver) Stats() (batches, requests int64) { return r.batches.Load(), r.reqs.Load() }

// Close stops the reserver after answering every queued request.
func (r *Reserver) Close() {
	r.closeMu.Do(func() { close(r.quit) })
	<-r.done
}

func (r *Reserver) loop() {
	var carry []*pending
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	take := func(batch []*pending, p *pending) []*pending {
		r.held.Add(1)
		return append(batch, p)
	}
	for {
		batch := carry
		carry = nil
		if len(batch) == 0 {
			select {
			case p := <-r.ch:
				batch = take(batch, p)
			case <-r.quit:
				r.drainClosed()
				return
			}
		}
		// Take what is queued; wait a little for callers on their way.
		waiting := false
	collect:
		for len(batch) < r.opts.MaxBatch {
			select {
			case p := <-r.ch:
				batch = take(batch, p)
				continue
			default:
			}
			// Callers inside Reserve whose request no executor holds yet
			// are on their way: wait for them, but not for the others.
			if r.inside.Load()-r.held.Load() <= 0 {
				break
			}
			if !waiting {
				timer.Reset(r.opts.MaxWait)
				waiting = true
			}
			select {
			case p := <-r.ch:
				batch = take(batch, p)
			case <-timer.C:
				waiting = false
				break collect
			}
		}
		if waiting && !timer.Stop() {
			<-timer.C
		}
		carry = r.apply(batch)
		r.held.Add(-int64(len(batch) - len(carry)))
	}
}

func (r *Reserver) drainClosed() {
	for {
		select {
		case p := <-r.ch:
			p.res <- ErrClosed
		default:
			return
		}
	}
}

// apply runs one batch and answers its requests; it returns the requests
// deferred to the next batch.
func (r *Reserver) apply(batch []*pending) (deferred []*pending) {
	live := batch[:0:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.res <- err
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return nil
	}
	reqs := make([][]ReserveLine, len(live))
	for i, p := range live {
		reqs[i] = p.lines
	}
	var results []error
	err := r.s.db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		results, err = r.s.reserveBatch(ctx, tx, reqs)
		return err
	})
	r.batches.Add(1)
	if err != nil && len(live) > 1 {
		// Something failed the whole transaction; isolate it by applying
		// each request on its own so the others still succeed.
		for _, p := range live {
			p.res <- r.s.Reserve(p.ctx, p.lines)
		}
		r.reqs.Add(int64(len(live)))
		return nil
	}
	for i, p := range live {
		if err != nil {
			p.res <- err
			continue
		}
		if errors.Is(results[i], errDeferred) {
			deferred = append(deferred, p)
			continue
		}
		p.res <- results[i]
		r.reqs.Add(1)
	}
	return deferred
}
