package sync

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/shop"
	"omnihub/store"
)

// Stock propagation.
//
// Inventory marks (shop, SKU) pairs whose sellable number moved, in the
// transaction that moved it, and calls OnMarkedTx. That schedules one push
// job per shop and push round; bursts coalesce because a job reads every
// pending mark of its shop and only each SKU's latest value is pushed.
//
// Correctness under concurrency rests on two rows per shop in
// sync_push_rounds:
//   - round: a marking transaction locks the shop's row (upsert) and enqueues
//     a job unique to the current round. A push job first advances the round
//     (waiting for any marking transaction holding the row), then reads the
//     marks. A mark committed before the advance is seen by that read; one
//     committed after it carries the next round and so gets its own job. No
//     change can fall between two rounds.
//   - lease: one job at a time pushes for a shop, so an older value can never
//     overwrite a newer one on the channel. A job that finds the lease held
//     snoozes briefly.

// OnMarkedTx is inventory's push hook: it schedules a push round for each
// shop in the caller's transaction.
func (e *Engine) OnMarkedTx(ctx context.Context, tx store.Tx, shopIDs []string) error {
	for _, shopID := range shopIDs {
		var round int64
		err := tx.QueryRow(ctx, `INSERT INTO sync_push_rounds (shop_id, round) VALUES ($1, 1)
			ON CONFLICT (shop_id) DO UPDATE SET round = sync_push_rounds.round RETURNING round`, shopID).Scan(&round)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "push round for shop %s", shopID)
		}
		if err := tx.InsertJob(ctx, PushStockArgs{ShopID: shopID, Round: round}, uniqueOpts()); err != nil {
			return err
		}
	}
	return nil
}

// ensurePushRoundTx starts a round when marks are pending but no job is (a
// crash between rounds, a job cancelled by hand).
func (e *Engine) ensurePushRoundTx(ctx context.Context, tx store.Tx, shopID string) error {
	var round int64
	err := tx.QueryRow(ctx, `SELECT round FROM sync_push_rounds WHERE shop_id = $1`, shopID).Scan(&round)
	if err == store.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	return tx.InsertJob(ctx, PushStockArgs{ShopID: shopID, Round: round}, uniqueOpts())
}

type pushWorker struct {
	river.WorkerDefaults[PushStockArgs]
	e *Engine
}

func (w *pushWorker) Work(ctx context.Context, j *river.Job[PushStockArgs]) error {
	e := w.e
	start := time.Now()
	defer func() { e.m.CallSeconds.WithLabelValues("push_stock").Observe(time.Since(start).Seconds()) }()
	owner := fmt.Sprintf("job-%d", j.ID)
	got, err := e.acquirePushLease(ctx, j.Args.ShopID, j.Args.Round, owner)
	if err != nil {
		return err
	}
	if !got {
		return river.JobSnooze(50 * time.Millisecond)
	}
	defer e.releasePushLease(context.WithoutCancel(ctx), j.Args.ShopID, owner)
	return e.pushPending(ctx, j.Args.ShopID)
}

const pushLease = 2 * time.Minute

func (e *Engine) acquirePushLease(ctx context.Context, shopID string, round int64, owner string) (bool, error) {
	now := store.UTC(e.now())
	var n int64
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.Exec(ctx, `UPDATE sync_push_rounds
			SET round = CASE WHEN round <= $2 THEN $2 + 1 ELSE round END, lease_owner = $3, lease_until = $4
			WHERE shop_id = $1 AND (lease_until IS NULL OR lease_until < $5 OR lease_owner = $3)`,
			shopID, round, owner, now.Add(pushLease), now)
		return err
	})
	if err != nil {
		return false, errs.Wrap(err, errs.Internal, "acquire push lease for shop %s", shopID)
	}
	return n == 1, nil
}

func (e *Engine) releasePushLease(ctx context.Context, shopID, owner string) {
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sync_push_rounds SET lease_owner = '', lease_until = NULL WHERE shop_id = $1 AND lease_owner = $2`, shopID, owner)
		return err
	})
	if err != nil {
		e.log.Warn("release push lease", "shop", shopID, "err", err)
	}
}

// pushPending pushes every pending mark of a shop, latest value per SKU,
// in the platform's batch size, and acknowledges what the platform accepted.
func (e *Engine) pushPending(ctx context.Context, shopID string) error {
	sess, sh, err := e.session(ctx, shopID)
	if err != nil {
		return err
	}
	if sh.Status != shop.Active || !sh.Settings.PushStock {
		// Nothing goes to a paused shop or one that opted out; acknowledge
		// so marks do not pile up (a resume reconciles).
		return e.ackAll(ctx, shopID)
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	pusher, ok := conn.(channel.StockPusher)
	if !ok {
		return e.ackAll(ctx, shopID)
	}
	batchMax := max(pusher.MaxStockBatch(), 1)
	for range 1000 { // bounded: a job never runs forever
		marks, err := e.deps.Stock.PendingPushes(ctx, shopID, e.cfg.PushBatch)
		if err != nil {
			return err
		}
		if len(marks) == 0 {
			e.m.Lag.WithLabelValues(shopID).Set(0)
			return nil
		}
		e.m.Lag.WithLabelValues(shopID).Set(e.now().Sub(marks[0].MarkedAt).Seconds())
		type item struct {
			mark channel.StockUpdate
			pm   PushMark
		}
		var items []item
		var unbound []PushMark
		for _, pm := range marks {
			bs, err := e.deps.Listings.BindingsForSKU(ctx, shopID, pm.SKUID)
			if err != nil {
				return err
			}
			if len(bs) == 0 {
				unbound = append(unbound, pm)
				continue
			}
			qty := max(pm.Sellable, 0)
			for _, b := range bs {
				items = append(items, item{channel.StockUpdate{PlatformItemID: b.PlatformItemID, PlatformSKUID: b.PlatformSKUID, Quantity: qty}, pm})
			}
		}
		for _, pm := range unbound {
			if err := e.deps.Stock.AckPush(ctx, shopID, pm.SKUID, pm.Version); err != nil {
				return err
			}
		}
		for lo := 0; lo < len(items); lo += batchMax {
			hi := min(lo+batchMax, len(items))
			batch := items[lo:hi]
			updates := make([]channel.StockUpdate, len(batch))
			for i, it := range batch {
				updates[i] = it.mark
			}
			if err := e.wait(ctx, sh, sess, sh.Settings.StockRate); err != nil {
				return err
			}
			sent := e.now()
			for _, it := range batch {
				d := sent.Sub(it.pm.MarkedAt)
				e.m.Propagation.Observe(d.Seconds())
				if e.deps.OnPropagation != nil {
					e.deps.OnPropagation(d)
				}
			}
			results, err := pusher.PushStock(ctx, sess, updates)
			if err != nil {
				// The whole call failed: nothing is acknowledged, the job
				// retries (or snoozes on a rate limit) and re-reads the
				// latest values.
				return e.classify(ctx, sh, "push_stock", err)
			}
			e.observe(shopID, "push_stock", true)
			if err := e.recordPushes(ctx, shopID, batch2log(results, func(i int) PushMark { return batch[i].pm })); err != nil {
				return err
			}
			// Acknowledge per SKU once all of its listings in this batch
			// were accepted. A SKU rejected for a permanent reason (listing
			// deleted on the platform) is acknowledged too, and logged:
			// retrying cannot fix it, the reconciler reports it.
			for i, r := range results {
				if r.Err != nil && channel.IsRetryable(r.Err) {
					return e.classify(ctx, sh, "push_stock", r.Err)
				}
				if err := e.deps.Stock.AckPush(ctx, shopID, batch[i].pm.SKUID, batch[i].pm.Version); err != nil {
					return err
				}
			}
			e.m.Pushed.WithLabelValues(shopID).Add(float64(len(batch)))
		}
	}
	return nil
}

type pushLogRow struct {
	skuID, platformSKUID string
	qty, version         int64
	err                  error
}

func batch2log(results []channel.StockResult, pm func(int) PushMark) []pushLogRow {
	out := make([]pushLogRow, len(results))
	for i, r := range results {
		m := pm(i)
		out[i] = pushLogRow{m.SKUID, r.Update.PlatformSKUID, r.Update.Quantity, m.Version, r.Err}
	}
	return out
}

func (e *Engine) recordPushes(ctx context.Context, shopID string, rows []pushLogRow) error {
	now := store.UTC(e.now())
	return e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, r := range rows {
			msg := ""
			if r.err != nil {
				msg = r.err.Error()
			}
			if _, err := tx.Exec(ctx, `INSERT INTO sync_push_log (id, shop_id, sku_id, platform_sku_id, quantity, version, ok, error, pushed_at)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, ids.New(), shopID, r.skuID, r.platformSKUID, r.qty, r.version, r.err == nil, msg, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *Engine) ackAll(ctx context.Context, shopID string) error {
	for range 1000 {
		marks, err := e.deps.Stock.PendingPushes(ctx, shopID, e.cfg.PushBatch)
		if err != nil || len(marks) == 0 {
			return err
		}
		for _, m := range marks {
			if err := e.deps.Stock.AckPush(ctx, shopID, m.SKUID, m.Version); err != nil {
				return err
			}
		}
	}
	return nil
}
