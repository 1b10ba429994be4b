package order

import (
	"context"
	"fmt"
	"sync"

	"omnihub/channel"
	"omnihub/errs"
)

// An ingestQueue turns concurrent single deliveries (Ingest) into batches
// (IngestBatch), one per shop.
//
// A platform's pushed messages arrive one order at a time, and the sync
// engine fetches and ingests each in a job of its own, many at once. As
// single-order transactions they cost a commit and a dozen statements each,
// and in a flash sale they all reserve the same few SKUs: on PostgreSQL
// every one of them waited for the row lock of the hot balance, held by the
// one before it until its commit, and ingest fell to about a hundred orders
// a second. Queued, the deliveries that arrive while a batch runs go into
// the next one together: one transaction, one lock per SKU and one commit
// for all of them.
//
// There is no timer: a lone delivery runs at once, alone, and batches grow
// only as far as the load makes deliveries wait anyway. One batch runs at a
// time.
type ingestQueue struct {
	mu    sync.Mutex
	queue []*delivery
	busy  bool
}

// maxIngestBatch bounds the deliveries of one round.
const maxIngestBatch = 500

type delivery struct {
	ctx     context.Context
	shopID  string
	order   channel.Order
	started bool // taken off the queue by a leader (under ingestQueue.mu)
	res     IngestResult
	err     error
	done    chan struct{}
}

// Ingest applies one platform delivery of an order. Deliveries are
// idempotent: the same version twice changes nothing, an older version than
// the stored one is recorded and ignored, the newest platform modification
// time wins. A paid order is audited in the same transaction.
//
// Concurrent calls share batches (see ingestQueue and IngestBatch): two
// versions of one order delivered at once are one batch's two deliveries,
// the newer applied and the older recorded as stale. A caller whose context
// ends while its delivery is still queued gets the context's error and the
// delivery is not applied.
func (s *Service) Ingest(ctx context.Context, shopID string, o channel.Order) (IngestResult, error) {
	if err := ctx.Err(); err != nil {
		return IngestResult{PlatformOrderID: o.PlatformOrderID}, err
	}
	q := &s.ingestQ
	d := &delivery{ctx: ctx, shopID: shopID, order: o, done: make(chan struct{})}
	q.mu.Lock()
	q.queue = append(q.queue, d)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if lead {
		s.leadIngest(d)
	}
	select {
	case <-d.done:
		return d.res, d.err
	case <-ctx.Done():
	}
	q.mu.Lock()
	if !d.started {
		for i, x := range q.queue {
			if x == d {
				q.queue = append(q.queue[:i:i], q.queue[i+1:]...)
				break
			}
		}
		q.mu.Unlock()
		return IngestResult{PlatformOrderID: o.PlatformOrderID}, ctx.Err()
	}
	q.mu.Unlock()
	<-d.done // running: its outcome is the caller's
	return d.res, d.err
}

// leadIngest runs queued rounds until own is answered, then hands the lead
// to a goroutine if deliveries are still queued, so that one caller does
// not serve a busy queue for ever.
func (s *Service) leadIngest(own *delivery) {
	q := &s.ingestQ
	for {
		q.mu.Lock()
		n := min(len(q.queue), maxIngestBatch)
		if n == 0 {
			q.busy = false
			q.mu.Unlock()
			return
		}
		round := append([]*delivery(nil), q.queue[:n]...)
		q.queue = append(q.queue[:0:0], q.queue[n:]...)
		for _, d := range round {
			d.started = true
		}
		q.mu.Unlock()
		s.ingestRound(round)
		if own != nil && isDone(own.done) {
			q.mu.Lock()
			more := len(q.queue) > 0
			if !more {
				q.busy = false
			}
			q.mu.Unlock()
			if more {
				go s.leadIngest(nil)
			}
			return
		}
	}
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// ingestRound ingests a round's deliveries, one IngestBatch per shop, and
// answers each. A batch's work runs on behalf of all its callers: it keeps
// the first caller's context values but none of their cancellations.
func (s *Service) ingestRound(round []*delivery) {
	var shops []string
	byShop := map[string][]*delivery{}
	for _, d := range round {
		if _, ok := byShop[d.shopID]; !ok {
			shops = append(shops, d.shopID)
		}
		byShop[d.shopID] = append(byShop[d.shopID], d)
	}
	for _, shop := range shops {
		ds := byShop[shop]
		orders := make([]channel.Order, len(ds))
		for i, d := range ds {
			orders[i] = d.order
		}
		res, err := s.safeIngestBatch(context.WithoutCancel(ds[0].ctx), shop, orders)
		for i, d := range ds {
			if err != nil {
				d.res, d.err = IngestResult{PlatformOrderID: d.order.PlatformOrderID}, err
			} else {
				d.res, d.err = res[i], res[i].Err
			}
			close(d.done)
		}
	}
}

// safeIngestBatch is IngestBatch with a panic turned into an error, so that
// the callers waiting on a round are answered whatever happens.
func (s *Service) safeIngestBatch(ctx context.Context, shopID string, orders []channel.Order) (res []IngestResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, errs.E(errs.Internal, "order: ingest panicked: %v", fmt.Sprint(p))
		}
	}()
	return s.IngestBatch(ctx, shopID, orders)
}
