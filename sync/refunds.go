package sync

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/shop"
)

// Refund pull and reconciliation.
//
// Platform refunds reach after-sales through messages first (Taobao TMC,
// Douyin push → inbox → processWorker). Messages get lost, so refunds have
// the same safety net as orders: an incremental pull per shop with its own
// watermark (stream "refunds"), overlapping windows within the platform's
// RefundPullLimits, scheduled by the tick at the shop's pull interval; and
// the reconciliation re-reads the refunds of its lookback and reports the
// cases it had to create. Reading a refund twice is harmless: the sink is
// idempotent per (shop, platform refund id) and ordered by the platform's
// modification time.
//
// A refund may arrive before its order: the sink answers errs.Unavailable.
// The pull then reads and ingests the order and applies the refund once
// more. If that fails too, the refund is deferred rather than failing the
// window: the rest of the window goes on, and the watermark stops at the
// deferred refund's modification time, so the next pull reads it again.
// A refund deferred for longer than the reconciliation lookback stops
// holding the watermark back (logged as an error; a person must look at its
// order). A refund the sink rejects as invalid or conflicting is logged
// and skipped, like a rejected order: retrying the same version cannot fix
// it, and reconciliation lists it among its errors while it is in the
// lookback.

// refundStream names the refund pull's watermark.
const refundStream = "refunds"

// PullRefundsArgs pulls one shop's refunds from its watermark.
type PullRefundsArgs struct {
	ShopID string `json:"shop_id"`
}

func (PullRefundsArgs) Kind() string { return "sync_pull_refunds" }

// RefundIndex is implemented by a RefundSink that can tell which platform
// cases it holds already. Reconciliation uses it to count the cases it
// created (refunds repaired); without it, refunds are still applied but no
// repair is counted.
type RefundIndex interface {
	// KnownRefunds returns the subset of platformRefundIDs the shop has a
	// case for.
	KnownRefunds(ctx context.Context, shopID string, platformRefundIDs []string) (map[string]bool, error)
}

type refundPullWorker struct {
	river.WorkerDefaults[PullRefundsArgs]
	e *Engine
}

func (w *refundPullWorker) Timeout(*river.Job[PullRefundsArgs]) time.Duration {
	return 10 * time.Minute
}

func (w *refundPullWorker) Work(ctx context.Context, j *river.Job[PullRefundsArgs]) error {
	e := w.e
	if e.deps.Refunds == nil {
		return nil
	}
	start := time.Now()
	defer func() { e.m.CallSeconds.WithLabelValues("pull_refunds").Observe(time.Since(start).Seconds()) }()
	sess, sh, err := e.activeSession(ctx, j.Args.ShopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	rp, ok := conn.(channel.RefundPuller)
	if !ok {
		return river.JobCancel(errNoCapability(sh, channel.CapRefunds))
	}
	limits := rp.RefundPullLimits()
	now := e.now().UTC()
	wm, err := e.watermark(ctx, sh.ID, refundStream)
	if err != nil {
		return err
	}
	if wm.IsZero() {
		// First pull: the last day, like the first order pull.
		wm = now.Add(-24 * time.Hour)
	}
	from := wm.Add(-sh.Settings.PullOverlap)
	if limits.MaxLookback > 0 && now.Sub(from) > limits.MaxLookback {
		from = now.Add(-limits.MaxLookback)
	}
	// Deferred refunds older than this no longer hold the watermark.
	holdFloor := now.Add(-e.cfg.ReconcileLookback)
	var hold time.Time // the oldest deferred refund still held for the next pull
	for from.Before(now) {
		to := now
		if limits.MaxWindow > 0 && to.Sub(from) > limits.MaxWindow {
			to = from.Add(limits.MaxWindow)
		}
		t, err := e.refundWindow(ctx, sh, sess, conn, rp, from, to, limits.MaxPageSize, false)
		if err != nil {
			return e.classify(ctx, sh, "pull_refunds", err)
		}
		for _, r := range t.deferred {
			if r.ModifiedAt.Before(holdFloor) {
				e.log.Error("refund left unapplied: its order could not be ingested", "shop", sh.ID,
					"refund", r.PlatformRefundID, "order", r.PlatformOrderID, "modified_at", r.ModifiedAt)
				continue
			}
			if hold.IsZero() || r.ModifiedAt.Before(hold) {
				hold = r.ModifiedAt
			}
		}
		e.log.Debug("pulled refund window", "shop", sh.ID, "from", from, "to", to,
			"refunds", t.seen, "applied", t.applied, "deferred", len(t.deferred), "rejected", len(t.rejected))
		mark := to
		if !hold.IsZero() && hold.Before(mark) {
			mark = hold
		}
		if err := e.setWatermark(ctx, sh.ID, refundStream, mark); err != nil {
			return err
		}
		if to.Equal(now) {
			break
		}
		from = to.Add(-sh.Settings.PullOverlap)
	}
	e.observe(sh.ID, "pull_refunds", true)
	return nil
}

// refundTally is what one refund window came to.
type refundTally struct {
	seen, applied int
	repaired      int              // applied and new to the sink (counted only with a RefundIndex)
	deferred      []channel.Refund // their order could not be ingested: for the next pull
	rejected      []string         // refused by the sink as invalid or conflicting: "id: error"
}

// refundWindow applies every refund of one window, page by page. With
// countRepairs it asks the sink's RefundIndex (if any) which refunds of each
// page are new.
func (e *Engine) refundWindow(ctx context.Context, sh shop.Shop, sess channel.Session, conn channel.Connector, rp channel.RefundPuller,
	from, to time.Time, pageSize int, countRepairs bool) (refundTally, error) {
	var t refundTally
	idx, _ := e.deps.Refunds.(RefundIndex)
	q := channel.RefundQuery{Start: from, End: to, PageSize: pageSize}
	for {
		if err := e.waitAPI(ctx, sh, sess, apiRefunds); err != nil {
			return t, err
		}
		page, err := rp.PullRefunds(ctx, sess, q)
		if err != nil {
			return t, err
		}
		var known map[string]bool
		if countRepairs && idx != nil && len(page.Refunds) > 0 {
			ids := make([]string, len(page.Refunds))
			for i, r := range page.Refunds {
				ids[i] = r.PlatformRefundID
			}
			if known, err = idx.KnownRefunds(ctx, sh.ID, ids); err != nil {
				return t, errs.Wrap(err, errs.CodeOf(err), "known refunds of shop %s", sh.ID)
			}
		}
		for _, r := range page.Refunds {
			t.seen++
			applied, err := e.applyRefund(ctx, sh, sess, conn, r)
			switch {
			case err == nil && applied:
				t.applied++
				if known != nil && !known[r.PlatformRefundID] {
					t.repaired++
					known[r.PlatformRefundID] = true
				}
			case err == nil:
				t.deferred = append(t.deferred, r)
			case errs.Is(err, errs.Invalid) || errs.Is(err, errs.Conflict):
				e.log.Warn("refund rejected", "shop", sh.ID, "refund", r.PlatformRefundID, "order", r.PlatformOrderID, "err", err)
				t.rejected = append(t.rejected, r.PlatformRefundID+": "+err.Error())
			default:
				return t, err
			}
		}
		if page.NextCursor == "" {
			return t, nil
		}
		q.Cursor = page.NextCursor
	}
}

// applyRefund hands one refund to the sink. When the sink answers that the
// refund's order is not ingested yet, it reads and ingests the order and
// tries once more; applied=false with a nil error means the refund could
// still not be applied and is left for later. Other sink errors are
// returned.
func (e *Engine) applyRefund(ctx context.Context, sh shop.Shop, sess channel.Session, conn channel.Connector, r channel.Refund) (applied bool, err error) {
	err = e.deps.Refunds.Apply(ctx, sh.ID, r)
	if err == nil || !errs.Is(err, errs.Unavailable) {
		return err == nil, err
	}
	op, ok := conn.(channel.OrderPuller)
	if !ok || r.PlatformOrderID == "" {
		return false, nil
	}
	if err := e.waitAPI(ctx, sh, sess, apiOrders); err != nil {
		return false, err
	}
	o, err := op.GetOrder(ctx, sess, r.PlatformOrderID)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		e.log.Warn("order of a pulled refund not read", "shop", sh.ID, "refund", r.PlatformRefundID, "order", r.PlatformOrderID, "err", err)
		return false, nil
	}
	if _, err := e.deps.Orders.Ingest(ctx, sh.ID, o); err != nil {
		if errs.Is(err, errs.Invalid) {
			e.log.Warn("order of a pulled refund rejected", "shop", sh.ID, "refund", r.PlatformRefundID, "order", r.PlatformOrderID, "err", err)
			return false, nil
		}
		return false, err
	}
	e.m.Ingested.WithLabelValues(sh.ID, "refund").Inc()
	err = e.deps.Refunds.Apply(ctx, sh.ID, r)
	if errs.Is(err, errs.Unavailable) {
		return false, nil
	}
	return err == nil, err
}

// reconcileRefunds re-reads the refunds modified within the lookback and
// applies them; the report counts those the sink did not have.
func (e *Engine) reconcileRefunds(ctx context.Context, rep *ReconcileReport, sh shop.Shop, sess channel.Session, conn channel.Connector, rp channel.RefundPuller) {
	limits := rp.RefundPullLimits()
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
		t, err := e.refundWindow(ctx, sh, sess, conn, rp, from, to, limits.MaxPageSize, true)
		rep.RefundsSeen += t.seen
		rep.RefundsRepaired += t.repaired
		for _, r := range t.deferred {
			rep.Errors = append(rep.Errors, "refund "+r.PlatformRefundID+": order "+r.PlatformOrderID+" could not be ingested")
		}
		for _, msg := range t.rejected {
			rep.Errors = append(rep.Errors, "refund "+msg)
		}
		if err != nil {
			rep.Errors = append(rep.Errors, "refunds: "+err.Error())
			return
		}
		from = to
	}
}
