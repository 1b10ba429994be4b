package sync

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"omnihub/channel"
	"omnihub/shop"
	"omnihub/store"
)

// activeStates are the job states in which a unique job blocks a duplicate
// (River requires pending, running and scheduled among them).
var activeStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable,
}

// TickArgs is the leader's heartbeat: it schedules per-shop work.
type TickArgs struct{}

func (TickArgs) Kind() string { return "sync_tick" }

// PullOrdersArgs pulls one shop's orders from its watermark.
type PullOrdersArgs struct {
	ShopID string `json:"shop_id"`
}

func (PullOrdersArgs) Kind() string { return "sync_pull_orders" }

// ConsumeArgs polls one shop's platform message queue (TMC).
type ConsumeArgs struct {
	ShopID string `json:"shop_id"`
}

func (ConsumeArgs) Kind() string { return "sync_consume_messages" }

// ProcessArgs processes one inbox message.
type ProcessArgs struct {
	InboxID string `json:"inbox_id"`
}

func (ProcessArgs) Kind() string { return "sync_process_message" }

// InsertOpts puts message jobs behind every other sync job. A live-stream
// burst queues thousands of them (most answered by one burst pull each
// few seconds); at equal priority the stock pushes, which keep the other
// channels from overselling, waited behind the whole backlog.
func (ProcessArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Priority: 2} }

// PushStockArgs pushes one shop's pending stock changes. Round makes the
// job unique per push round (see stock.go).
type PushStockArgs struct {
	ShopID string `json:"shop_id"`
	Round  int64  `json:"round"`
}

func (PushStockArgs) Kind() string { return "sync_push_stock" }

// UploadShipmentArgs reports one shipment to the platform.
type UploadShipmentArgs struct {
	ShopID   string           `json:"shop_id"`
	Shipment channel.Shipment `json:"shipment"`
}

func (UploadShipmentArgs) Kind() string { return "sync_upload_shipment" }

// ReconcileArgs reconciles one shop.
type ReconcileArgs struct {
	ShopID string `json:"shop_id"`
}

func (ReconcileArgs) Kind() string { return "sync_reconcile" }

// ReconcileAllArgs schedules a reconciliation of every active shop.
type ReconcileAllArgs struct{}

func (ReconcileAllArgs) Kind() string { return "sync_reconcile_all" }

// RefreshTokenArgs refreshes one shop's access token.
type RefreshTokenArgs struct {
	ShopID string `json:"shop_id"`
}

func (RefreshTokenArgs) Kind() string { return "sync_refresh_token" }

// EnqueueShipmentTx schedules a shipment upload in the caller's transaction.
func EnqueueShipmentTx(ctx context.Context, tx store.Tx, shopID string, sh channel.Shipment) error {
	return tx.InsertJob(ctx, UploadShipmentArgs{ShopID: shopID, Shipment: sh}, uniqueOpts())
}

// tickWorker fans the heartbeat out to per-shop jobs. Unique options make a
// tick harmless when the previous round is still running.
type tickWorker struct {
	river.WorkerDefaults[TickArgs]
	e *Engine
}

func (w *tickWorker) Work(ctx context.Context, _ *river.Job[TickArgs]) error {
	e := w.e
	shops, err := e.deps.Shops.List(ctx)
	if err != nil {
		return err
	}
	now := e.now()
	for _, sh := range shops {
		if sh.Status != shop.Active {
			continue
		}
		conn, err := e.connector(sh)
		if err != nil {
			e.log.Warn("shop has no connector", "shop", sh.ID, "platform", sh.Platform)
			continue
		}
		// A safety net for propagation: if marks are pending but no push
		// job is queued (a crash between rounds), start a round. Only then:
		// a round for a shop with nothing pending is an idle job per shop
		// and tick that also takes the lease from real pushes.
		pending, err := e.deps.Stock.PendingPushes(ctx, sh.ID, 1)
		if err != nil {
			return err
		}
		err = e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if _, ok := conn.(channel.OrderPuller); ok && e.pullDue(ctx, tx, sh, "orders", now) {
				if err := tx.InsertJob(ctx, PullOrdersArgs{ShopID: sh.ID}, uniqueOpts()); err != nil {
					return err
				}
			}
			if _, ok := conn.(channel.RefundPuller); ok && e.deps.Refunds != nil && e.pullDue(ctx, tx, sh, refundStream, now) {
				if err := tx.InsertJob(ctx, PullRefundsArgs{ShopID: sh.ID}, uniqueOpts()); err != nil {
					return err
				}
			}
			if _, ok := conn.(channel.MessageConsumer); ok {
				if err := tx.InsertJob(ctx, ConsumeArgs{ShopID: sh.ID}, uniqueOpts()); err != nil {
					return err
				}
			}
			if sh.TokenExpiresAt != nil && sh.TokenExpiresAt.Before(now.Add(e.cfg.RefreshBefore)) {
				if _, ok := conn.(channel.TokenRefresher); ok {
					if err := tx.InsertJob(ctx, RefreshTokenArgs{ShopID: sh.ID}, uniqueOpts()); err != nil {
						return err
					}
				}
			}
			if len(pending) == 0 {
				return nil
			}
			return e.ensurePushRoundTx(ctx, tx, sh.ID)
		})
		if err != nil {
			return err
		}
	}
	return e.checkAlerts(ctx)
}

// pullDue reports whether a shop's pull interval has passed since the
// watermark of a stream (orders, refunds) was last advanced.
func (e *Engine) pullDue(ctx context.Context, tx store.Tx, sh shop.Shop, stream string, now time.Time) bool {
	var updated time.Time
	err := tx.QueryRow(ctx, `SELECT updated_at FROM sync_watermarks WHERE shop_id = $1 AND stream = $2`, sh.ID, stream).Scan(&updated)
	if err != nil {
		return true
	}
	return now.Sub(updated) >= sh.Settings.PullInterval-e.cfg.TickEvery/2
}

type reconcileAllWorker struct {
	river.WorkerDefaults[ReconcileAllArgs]
	e *Engine
}

func (w *reconcileAllWorker) Work(ctx context.Context, _ *river.Job[ReconcileAllArgs]) error {
	shops, err := w.e.deps.Shops.List(ctx)
	if err != nil {
		return err
	}
	return w.e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, sh := range shops {
			if sh.Status == shop.Active {
				if err := tx.InsertJob(ctx, ReconcileArgs{ShopID: sh.ID}, uniqueOpts()); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

type refreshWorker struct {
	river.WorkerDefaults[RefreshTokenArgs]
	e *Engine
}

func (w *refreshWorker) Work(ctx context.Context, j *river.Job[RefreshTokenArgs]) error {
	return w.e.refreshShop(ctx, j.Args.ShopID)
}

// refreshShop renews a shop's token and stores it sealed.
func (e *Engine) refreshShop(ctx context.Context, shopID string) error {
	sess, sh, err := e.activeSession(ctx, shopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	r, ok := conn.(channel.TokenRefresher)
	if !ok {
		return nil
	}
	creds, err := r.RefreshToken(ctx, sess.Credentials)
	e.observe(shopID, "refresh_token", err == nil)
	if err != nil {
		return err
	}
	e.log.Info("token refreshed", "shop", shopID, "expires_at", creds.ExpiresAt)
	return e.deps.Shops.UpdateCredentials(ctx, shopID, creds)
}

type shipmentWorker struct {
	river.WorkerDefaults[UploadShipmentArgs]
	e *Engine
}

func (w *shipmentWorker) Work(ctx context.Context, j *river.Job[UploadShipmentArgs]) error {
	e := w.e
	start := time.Now()
	defer func() { e.m.CallSeconds.WithLabelValues("upload_shipment").Observe(time.Since(start).Seconds()) }()
	sess, sh, err := e.activeSession(ctx, j.Args.ShopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	up, ok := conn.(channel.ShipmentUploader)
	if !ok {
		return river.JobCancel(errNoCapability(sh, channel.CapUploadShipment))
	}
	if err := e.waitAPI(ctx, sh, sess, apiLogistics); err != nil {
		return err
	}
	return e.classify(ctx, sh, "upload_shipment", up.UploadShipment(ctx, sess, j.Args.Shipment))
}
