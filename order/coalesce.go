package order

import (
	"context"
	"fmt"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/internal/batchq"
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
type ingestQueue = batchq.Queue[*delivery]

// maxIngestBatch bounds the deliveries of one round.
const maxIngestBatch = 500

type delivery struct {
	ctx    context.Context
	shopID string
	order  channel.Order
	res    IngestResult
	err    error
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
	d := &delivery{ctx: ctx, shopID: shopID, order: o}
	if err := s.ingestQ.Do(ctx, d, s.ingestRound); err != nil {
		return IngestResult{PlatformOrderID: o.PlatformOrderID}, err
	}
	return d.res, d.err
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
