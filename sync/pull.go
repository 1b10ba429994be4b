package sync

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/shop"
	"omnihub/store"
)

// pullWorker pulls a shop's orders modified since its watermark.
//
// Windows: [watermark − overlap, min(now, start + platform max window)),
// paged to the platform's page size. The overlap re-reads the tail of the
// previous window because platforms index modifications with a delay; ingest
// is idempotent, so the re-read costs only calls. The watermark advances only
// after every page of a window is ingested, in one small transaction, so a
// crash mid-window re-reads the window instead of skipping it.
type pullWorker struct {
	river.WorkerDefaults[PullOrdersArgs]
	e *Engine
}

func (w *pullWorker) Timeout(*river.Job[PullOrdersArgs]) time.Duration { return 10 * time.Minute }

func (w *pullWorker) Work(ctx context.Context, j *river.Job[PullOrdersArgs]) error {
	e := w.e
	start := time.Now()
	defer func() { e.m.CallSeconds.WithLabelValues("pull_orders").Observe(time.Since(start).Seconds()) }()
	sess, sh, err := e.activeSession(ctx, j.Args.ShopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	puller, ok := conn.(channel.OrderPuller)
	if !ok {
		return river.JobCancel(errNoCapability(sh, channel.CapPullOrders))
	}
	limits := puller.PullLimits()
	now := e.now().UTC()
	wm, err := e.watermark(ctx, sh.ID, "orders")
	if err != nil {
		return err
	}
	if wm.IsZero() {
		// First pull: look back one day (bounded by the platform), the way a
		// merchant connecting a shop expects yesterday's orders to appear.
		wm = now.Add(-24 * time.Hour)
	}
	from := wm.Add(-sh.Settings.PullOverlap)
	if limits.MaxLookback > 0 && now.Sub(from) > limits.MaxLookback {
		from = now.Add(-limits.MaxLookback)
	}
	// Walk windows up to now; a long outage catches up window by window.
	for from.Before(now) {
		to := now
		if limits.MaxWindow > 0 && to.Sub(from) > limits.MaxWindow {
			to = from.Add(limits.MaxWindow)
		}
		n, err := e.pullWindow(ctx, sh.ID, puller, sess, nil, from, to, limits.MaxPageSize, "pull")
		if err != nil {
			return e.classify(ctx, sh, "pull_orders", err)
		}
		e.log.Debug("pulled window", "shop", sh.ID, "from", from, "to", to, "orders", n)
		if err := e.setWatermark(ctx, sh.ID, "orders", to); err != nil {
			return err
		}
		if to.Equal(now) {
			break
		}
		from = to.Add(-sh.Settings.PullOverlap)
	}
	e.observe(sh.ID, "pull_orders", true)
	return nil
}

// pullWindow ingests every order of one window, page by page; when seen is
// not nil it collects the platform ids of the orders ingested.
func (e *Engine) pullWindow(ctx context.Context, shopID string, p channel.OrderPuller, sess channel.Session, seen map[string]bool, from, to time.Time, pageSize int, source string) (int, error) {
	q := channel.OrderQuery{Start: from, End: to, PageSize: pageSize}
	n := 0
	for {
		_, sh, err := e.activeSession(ctx, shopID)
		if err != nil {
			return n, err
		}
		if err := e.waitAPI(ctx, sh, sess, apiOrders); err != nil {
			return n, err
		}
		page, err := p.PullOrders(ctx, sess, q)
		if err != nil {
			return n, err
		}
		if len(page.Orders) > 0 {
			outs, err := e.deps.Orders.IngestBatch(ctx, shopID, page.Orders)
			if err != nil {
				return n, err
			}
			for i, o := range page.Orders {
				if err := outs[i].Err; err != nil {
					if errs.Is(err, errs.Invalid) {
						// Bad platform data is parked by the order domain;
						// a typed invalid error here means it could not
						// even be parked: log and go on rather than block
						// the shop.
						e.log.Warn("order rejected", "shop", shopID, "order", o.PlatformOrderID, "err", err)
						continue
					}
					return n, err
				}
				e.m.Ingested.WithLabelValues(shopID, source).Inc()
				if seen != nil {
					seen[o.PlatformOrderID] = true
				}
				n++
			}
		}
		if page.NextCursor == "" {
			return n, nil
		}
		q.Cursor = page.NextCursor
	}
}

func (e *Engine) watermark(ctx context.Context, shopID, stream string) (time.Time, error) {
	var wm time.Time
	err := e.deps.DB.QueryRow(ctx, `SELECT watermark FROM sync_watermarks WHERE shop_id = $1 AND stream = $2`, shopID, stream).Scan(&wm)
	if err == store.ErrNoRows {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, errs.Wrap(err, errs.Internal, "read watermark")
	}
	return wm, nil
}

// setWatermark only moves a watermark forward (two pulls racing after a
// failover cannot move it back).
func (e *Engine) setWatermark(ctx context.Context, shopID, stream string, wm time.Time) error {
	now := store.UTC(e.now())
	return e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO sync_watermarks (shop_id, stream, watermark, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (shop_id, stream) DO UPDATE SET
				watermark = CASE WHEN excluded.watermark > sync_watermarks.watermark THEN excluded.watermark ELSE sync_watermarks.watermark END,
				updated_at = excluded.updated_at`,
			shopID, stream, store.UTC(wm), now)
		return err
	})
}

func errNoCapability(sh shop.Shop, c channel.Capability) error {
	return errs.E(errs.Invalid, "shop %s: platform %s cannot %s", sh.ID, sh.Platform, c)
}
