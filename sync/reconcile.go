package sync

import (
	"context"
	"encoding/json"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/shop"
	"omnihub/store"
)

// ReconcileReport says what a reconciliation found and repaired.
type ReconcileReport struct {
	ID              string        `json:"id"`
	ShopID          string        `json:"shop_id"`
	StartedAt       time.Time     `json:"started_at"`
	Duration        time.Duration `json:"duration_ns"`
	OrdersSeen      int           `json:"orders_seen"`
	OrdersRepaired  int           `json:"orders_repaired"` // present on the platform, missing here: ingested
	RefundsSeen     int           `json:"refunds_seen"`
	RefundsRepaired int           `json:"refunds_repaired"` // no after-sales case here: applied (counted when the refund sink is a RefundIndex)
	ListingsSeen    int           `json:"listings_seen"`
	Unbound         int           `json:"listings_unbound"`
	StockDrift      []StockDrift  `json:"stock_drift,omitempty"` // channel quantity ≠ policy value: corrected
	Errors          []string      `json:"errors,omitempty"`
	// StockSkipped says why channel stock was not compared (the shop has
	// no allocation policy yet, so OmniHub has no number for it).
	StockSkipped string `json:"stock_skipped,omitempty"`
}

// StockDrift is one listing whose channel quantity differed from policy.
type StockDrift struct {
	SKUID          string `json:"sku_id"`
	PlatformItemID string `json:"platform_item_id"`
	PlatformSKUID  string `json:"platform_sku_id"`
	Channel        int64  `json:"channel"`
	Policy         int64  `json:"policy"`
	Corrected      bool   `json:"corrected"`
	// Pending: a change of this SKU is queued for the stock pusher, which
	// will set the channel; the reconciler leaves it to it.
	Pending bool `json:"pending,omitempty"`
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	e *Engine
}

func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 30 * time.Minute }

func (w *reconcileWorker) Work(ctx context.Context, j *river.Job[ReconcileArgs]) error {
	_, err := w.e.Reconcile(ctx, j.Args.ShopID)
	return err
}

// Reconcile finds and repairs what pulls and pushes missed for one shop:
// orders and refunds modified on the platform within the lookback that
// OmniHub does not have, and channel stock that differs from the policy
// value. The report is stored and returned. A paused shop is not
// reconciled: the answer is an errs.Conflict (to a job, a snooze).
func (e *Engine) Reconcile(ctx context.Context, shopID string) (ReconcileReport, error) {
	rep := ReconcileReport{ID: ids.New(), ShopID: shopID, StartedAt: store.UTC(e.now())}
	sess, sh, err := e.activeSession(ctx, shopID)
	if err != nil {
		return rep, err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return rep, err
	}
	if puller, ok := conn.(channel.OrderPuller); ok {
		limits := puller.PullLimits()
		now := e.now().UTC()
		from := now.Add(-e.cfg.ReconcileLookback)
		if limits.MaxLookback > 0 && now.Sub(from) > limits.MaxLookback {
			from = now.Add(-limits.MaxLookback)
		}
		for from.Before(now) {
			to := now
			if limits.MaxWindow > 0 && to.Sub(from) > limits.MaxWindow {
				to = from.Add(limits.MaxWindow)
			}
			seen, repaired, err := e.reconcileWindow(ctx, sh.ID, puller, sess, from, to, limits.MaxPageSize)
			rep.OrdersSeen += seen
			rep.OrdersRepaired += repaired
			if isPaused(err) {
				return rep, err // paused meanwhile: the whole run waits for the resume
			}
			if err != nil {
				rep.Errors = append(rep.Errors, "orders: "+err.Error())
				break
			}
			from = to
		}
	}
	if rp, ok := conn.(channel.RefundPuller); ok && e.deps.Refunds != nil {
		e.reconcileRefunds(ctx, &rep, sh, sess, conn, rp)
	}
	if reader, ok := conn.(channel.ListingReader); ok {
		pusher, canPush := conn.(channel.StockPusher)
		cursor := ""
		for {
			if err := e.waitAPI(ctx, sh, sess, apiListings); err != nil {
				return rep, err
			}
			page, err := reader.ListListings(ctx, sess, cursor)
			if err != nil {
				rep.Errors = append(rep.Errors, "listings: "+err.Error())
				break
			}
			var listings []boundListing
			for _, l := range page.Listings {
				rep.ListingsSeen++
				skuID, ok, err := e.deps.Listings.SKUForListing(ctx, shopID, l)
				if err != nil {
					return rep, err
				}
				if !ok {
					rep.Unbound++
					continue
				}
				listings = append(listings, boundListing{l, skuID})
			}
			var err2 error
			switch {
			case rep.StockSkipped != "":
			case canPush && sh.Settings.PushStock:
				err2 = e.correctStock(ctx, &rep, sh, sess, pusher, listings)
			default:
				for _, b := range listings {
					if _, err2 = e.stockDrift(ctx, &rep, shopID, b.l, b.skuID, false); err2 != nil {
						break
					}
				}
			}
			if errs.CodeOf(err2) == errs.NotFound {
				// No allocation policy (a shop connected before its
				// policy was set): there is no number to compare with.
				// The orders are reconciled all the same; retrying would
				// only make a dead letter of a settings gap.
				rep.StockSkipped = err2.Error()
				err2 = nil
			}
			if err2 != nil {
				return rep, err2
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	rep.Duration = e.now().Sub(rep.StartedAt)
	raw, _ := json.Marshal(rep)
	err = e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO sync_reconcile_runs (id, shop_id, started_at, report) VALUES ($1,$2,$3,$4)`,
			rep.ID, shopID, rep.StartedAt, string(raw))
		return err
	})
	if err != nil {
		return rep, errs.Wrap(err, errs.Internal, "store reconcile report")
	}
	if rep.OrdersRepaired > 0 || rep.RefundsRepaired > 0 || len(rep.StockDrift) > 0 {
		e.log.Warn("reconciliation repaired", "shop", shopID, "orders", rep.OrdersRepaired, "refunds", rep.RefundsRepaired, "stock_drift", len(rep.StockDrift))
	}
	return rep, nil
}

// boundListing is a platform listing and the internal SKU bound to it.
type boundListing struct {
	l     channel.Listing
	skuID string
}

// maxPendingChecked bounds the queued stock changes a reconciliation reads
// per page to leave to the pusher; beyond it, a queued SKU may be corrected
// and then pushed again with the same value (harmless, one more call).
const maxPendingChecked = 10000

// correctStock compares one page of bound listings with the policy values
// and pushes the policy value where they differ.
//
// It holds the shop's push lease meanwhile, so the stock pusher (in this
// process or another) never writes the channel at the same time: a
// correction computed from an older truth can then never land after a
// newer push and stay wrong until the next reconciliation. A SKU whose
// change is still queued is left to the pusher (reported as pending), so
// the same change is not pushed twice.
func (e *Engine) correctStock(ctx context.Context, rep *ReconcileReport, sh shop.Shop, sess channel.Session, pusher channel.StockPusher, listings []boundListing) error {
	if len(listings) == 0 {
		return nil
	}
	owner := "reconcile-" + rep.ID
	if err := e.awaitPushLease(ctx, sh.ID, owner); err != nil {
		return err
	}
	defer e.releasePushLease(context.WithoutCancel(ctx), sh.ID, owner)
	marks, err := e.deps.Stock.PendingPushes(ctx, sh.ID, maxPendingChecked)
	if err != nil {
		return err
	}
	pending := make(map[string]bool, len(marks))
	for _, m := range marks {
		pending[m.SKUID] = true
	}
	for _, b := range listings {
		d, err := e.stockDrift(ctx, rep, sh.ID, b.l, b.skuID, pending[b.skuID])
		if err != nil {
			return err
		}
		if d == nil || d.Pending {
			continue
		}
		if err := e.wait(ctx, sh, sess, sh.Settings.StockRate); err != nil {
			return err
		}
		res, err := pusher.PushStock(ctx, sess, []channel.StockUpdate{{PlatformItemID: b.l.PlatformItemID, PlatformSKUID: b.l.PlatformSKUID, Quantity: d.Policy}})
		d.Corrected = err == nil && len(res) == 1 && res[0].Err == nil
		if !d.Corrected {
			rep.Errors = append(rep.Errors, "push "+b.l.PlatformSKUID+": "+firstErr(err, res).Error())
		}
	}
	return nil
}

// stockDrift compares a listing's channel quantity with the policy value
// and, when they differ, appends the drift to the report and returns it.
func (e *Engine) stockDrift(ctx context.Context, rep *ReconcileReport, shopID string, l channel.Listing, skuID string, pending bool) (*StockDrift, error) {
	want, err := e.deps.Stock.Sellable(ctx, shopID, skuID)
	if err != nil {
		return nil, err
	}
	want = max(want, 0)
	if want == l.Quantity {
		return nil, nil
	}
	rep.StockDrift = append(rep.StockDrift, StockDrift{SKUID: skuID, PlatformItemID: l.PlatformItemID, PlatformSKUID: l.PlatformSKUID,
		Channel: l.Quantity, Policy: want, Pending: pending})
	return &rep.StockDrift[len(rep.StockDrift)-1], nil
}

// awaitPushLease takes a shop's push lease for owner, waiting while a push
// job holds it (a little over one lease period: a holder that died has lost
// it by then).
func (e *Engine) awaitPushLease(ctx context.Context, shopID, owner string) error {
	// The lease lives on the shop's round row; a shop never marked has none
	// yet. Round 1 is what the first marking transaction would insert.
	if _, err := e.deps.DB.Exec(ctx, `INSERT INTO sync_push_rounds (shop_id, round) VALUES ($1, 1) ON CONFLICT (shop_id) DO NOTHING`, shopID); err != nil {
		return errs.Wrap(err, errs.Internal, "push round for shop %s", shopID)
	}
	deadline := time.Now().Add(pushLease + 5*time.Second)
	for {
		// Round 0 leaves the round as it is: only push jobs advance it.
		got, err := e.acquirePushLease(ctx, shopID, 0, owner)
		if err != nil || got {
			return err
		}
		if time.Now().After(deadline) {
			return errs.E(errs.Unavailable, "shop %s: the stock push lease stayed taken for %s", shopID, pushLease)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (e *Engine) reconcileWindow(ctx context.Context, shopID string, p channel.OrderPuller, sess channel.Session, from, to time.Time, pageSize int) (seen, repaired int, err error) {
	q := channel.OrderQuery{Start: from, End: to, PageSize: pageSize}
	for {
		_, sh, err := e.activeSession(ctx, shopID)
		if err != nil {
			return seen, repaired, err
		}
		if err := e.waitAPI(ctx, sh, sess, apiOrders); err != nil {
			return seen, repaired, err
		}
		page, err := p.PullOrders(ctx, sess, q)
		if err != nil {
			return seen, repaired, err
		}
		for _, o := range page.Orders {
			seen++
			created, err := e.deps.Orders.Ingest(ctx, shopID, o)
			if err != nil && !errs.Is(err, errs.Invalid) {
				return seen, repaired, err
			}
			if created {
				repaired++
				e.m.Ingested.WithLabelValues(shopID, "reconcile").Inc()
			}
		}
		if page.NextCursor == "" {
			return seen, repaired, nil
		}
		q.Cursor = page.NextCursor
	}
}

func firstErr(err error, res []channel.StockResult) error {
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return errs.E(errs.Internal, "no result")
}

// ReconcileRuns lists a shop's recent reconciliation reports, newest first.
func (e *Engine) ReconcileRuns(ctx context.Context, shopID string, limit int) ([]ReconcileReport, error) {
	rows, err := e.deps.DB.Query(ctx, `SELECT report FROM sync_reconcile_runs WHERE shop_id = $1 ORDER BY started_at DESC LIMIT $2`, shopID, limit)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list reconcile runs")
	}
	defer rows.Close()
	var out []ReconcileReport
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, err
		}
		var r ReconcileReport
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "decode reconcile report")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
