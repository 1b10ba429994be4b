package sync

import (
	"context"
	"net/http"
	"time"

	"omnihub/api"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/shop"
	"omnihub/store"
)

// ShopStatus is the sync monitor's view of one shop.
type ShopStatus struct {
	Shop             shop.Shop  `json:"shop"`
	OrdersWatermark  *time.Time `json:"orders_watermark,omitempty"`
	LastPullAt       *time.Time `json:"last_pull_at,omitempty"`
	PendingPushes    int        `json:"pending_pushes"`
	OldestPendingAge float64    `json:"oldest_pending_age_seconds"`
	LastPushAt       *time.Time `json:"last_push_at,omitempty"`
	PushFailures1h   int        `json:"push_failures_1h"`
	InboxBacklog     int        `json:"inbox_backlog"`
	FailureRate      float64    `json:"failure_rate"`
	Calls            int        `json:"calls_in_window"`
}

// Status reports every shop's sync state.
func (e *Engine) Status(ctx context.Context) ([]ShopStatus, error) {
	shops, err := e.deps.Shops.List(ctx)
	if err != nil {
		return nil, err
	}
	rates, err := e.failureRates(ctx)
	if err != nil {
		return nil, err
	}
	now := e.now()
	out := make([]ShopStatus, 0, len(shops))
	for _, sh := range shops {
		st := ShopStatus{Shop: sh}
		var wm, upd time.Time
		if err := e.deps.DB.QueryRow(ctx, `SELECT watermark, updated_at FROM sync_watermarks WHERE shop_id = $1 AND stream = 'orders'`, sh.ID).Scan(&wm, &upd); err == nil {
			st.OrdersWatermark, st.LastPullAt = &wm, &upd
		}
		marks, err := e.deps.Stock.PendingPushes(ctx, sh.ID, 1000)
		if err != nil {
			return nil, err
		}
		st.PendingPushes = len(marks)
		if len(marks) > 0 {
			oldest := marks[0].MarkedAt
			for _, m := range marks {
				if m.MarkedAt.Before(oldest) {
					oldest = m.MarkedAt
				}
			}
			st.OldestPendingAge = now.Sub(oldest).Seconds()
		}
		var last *time.Time
		if err := e.deps.DB.QueryRow(ctx, `SELECT MAX(pushed_at) FROM sync_push_log WHERE shop_id = $1`, sh.ID).Scan(&last); err == nil {
			st.LastPushAt = last
		}
		_ = e.deps.DB.QueryRow(ctx, `SELECT COUNT(*) FROM sync_push_log WHERE shop_id = $1 AND NOT ok AND pushed_at > $2`, sh.ID, store.UTC(now.Add(-time.Hour))).Scan(&st.PushFailures1h)
		_ = e.deps.DB.QueryRow(ctx, `SELECT COUNT(*) FROM sync_inbox WHERE shop_id = $1 AND processed_at IS NULL`, sh.ID).Scan(&st.InboxBacklog)
		if r := rates[sh.ID]; r.calls() > 0 {
			st.FailureRate, st.Calls = float64(r.failed)/float64(r.calls()), int(r.calls())
		}
		out = append(out, st)
	}
	return out, nil
}

// Routes registers the sync API: shops, the monitor, reconciliation,
// alerts, and the platforms' push endpoints (public, verified by signature).
func (e *Engine) Routes(s *api.Server, maxPushBody int64) {
	tags := []string{"sync"}
	s.HandleOp(api.Op{Method: "GET", Path: "/api/v1/shops", Permission: "channels.read", Tags: tags,
		Summary: "List connected shops", Response: []shop.Shop{}}, func(w http.ResponseWriter, r *http.Request) error {
		list, err := e.deps.Shops.List(r.Context())
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"items": list})
		return nil
	})
	s.HandleOp(api.Op{Method: "POST", Path: "/api/v1/shops", Permission: "channels.write", Tags: tags, Status: http.StatusCreated,
		Summary: "Connect a shop (credentials are sealed at rest)", Request: shop.New{}, Response: shop.Shop{}}, func(w http.ResponseWriter, r *http.Request) error {
		var n shop.New
		if err := api.DecodeJSON(r, &n); err != nil {
			return err
		}
		sh, err := e.deps.Shops.Create(r.Context(), n)
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusCreated, sh)
		return nil
	})
	s.HandleOp(api.Op{Method: "GET", Path: "/api/v1/shops/{id}", Permission: "channels.read", Tags: tags,
		Summary: "One shop", Response: shop.Shop{}}, func(w http.ResponseWriter, r *http.Request) error {
		sh, err := e.deps.Shops.Get(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, sh)
		return nil
	})
	s.HandleOp(api.Op{Method: "POST", Path: "/api/v1/shops/{id}/pull", Permission: "channels.write", Tags: tags, Status: http.StatusAccepted,
		Summary: "Pull the shop's orders now"}, func(w http.ResponseWriter, r *http.Request) error {
		return e.enqueue(w, r, r.PathValue("id"), PullOrdersArgs{ShopID: r.PathValue("id")})
	})
	s.HandleOp(api.Op{Method: "POST", Path: "/api/v1/shops/{id}/reconcile", Permission: "channels.write", Tags: tags, Status: http.StatusAccepted,
		Summary: "Reconcile the shop's orders and channel stock now"}, func(w http.ResponseWriter, r *http.Request) error {
		return e.enqueue(w, r, r.PathValue("id"), ReconcileArgs{ShopID: r.PathValue("id")})
	})
	s.HandleOp(api.Op{Method: "GET", Path: "/api/v1/shops/{id}/reconcile-runs", Permission: "channels.read", Tags: tags, Query: []string{"limit"},
		Summary: "Recent reconciliation reports", Response: []ReconcileReport{}}, func(w http.ResponseWriter, r *http.Request) error {
		limit, err := api.QueryInt(r, "limit", 20, 1, 200)
		if err != nil {
			return err
		}
		runs, err := e.ReconcileRuns(r.Context(), r.PathValue("id"), limit)
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"items": runs})
		return nil
	})
	s.HandleOp(api.Op{Method: "GET", Path: "/api/v1/sync/status", Permission: "channels.read", Tags: tags,
		Summary: "Sync monitor: per shop watermark, pending pushes, lag, failures", Response: []ShopStatus{}}, func(w http.ResponseWriter, r *http.Request) error {
		st, err := e.Status(r.Context())
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"shops": st})
		return nil
	})
	s.HandleOp(api.Op{Method: "GET", Path: "/api/v1/alerts", Permission: "channels.read", Tags: tags, Query: []string{"limit"},
		Summary: "Recent alerts", Response: []Alert{}}, func(w http.ResponseWriter, r *http.Request) error {
		limit, err := api.QueryInt(r, "limit", 50, 1, 500)
		if err != nil {
			return err
		}
		list, err := e.Alerts(r.Context(), limit)
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusOK, map[string]any{"items": list})
		return nil
	})
	for _, p := range []channel.Platform{channel.Douyin} {
		s.PublicSigned("POST /api/v1/push/"+string(p), e.PushHandler(p, maxPushBody))
	}
}

func (e *Engine) enqueue(w http.ResponseWriter, r *http.Request, shopID string, args interface{ Kind() string }) error {
	ctx := r.Context()
	sh, err := e.deps.Shops.Get(ctx, shopID)
	if err != nil {
		return err
	}
	if sh.Status != shop.Active {
		// A paused shop is neither pulled nor pushed to (reconciling pushes
		// stock corrections), not even on request.
		return errs.E(errs.Conflict, "shop %s is %s: resume it first (PATCH /api/v1/shops/%s {\"status\":\"active\"})", shopID, sh.Status, shopID).
			WithField("status", string(sh.Status))
	}
	err = e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		switch a := args.(type) {
		case PullOrdersArgs:
			return tx.InsertJob(ctx, a, uniqueOpts())
		case ReconcileArgs:
			return tx.InsertJob(ctx, a, uniqueOpts())
		}
		return errs.E(errs.Internal, "unknown job %s", args.Kind())
	})
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}
