package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"omnihub/auth"
	"omnihub/catalog"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/inventory"
)

// A shop paused through the API is left alone by the running sync engine:
// while ticks go on, no call reaches its platform (no pull, no message
// poll, no stock push) and its stock changes are acknowledged without a
// push; resumed, it is synced again and the reconciliation the resume
// schedules brings the platform's stock up to date.
func TestPausedShopIsNotSynced(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newEngineApp(t, engine, Options{RunWorkers: true, SyncTick: 50 * time.Millisecond})
		ctx := context.Background()
		runCtx, cancel := context.WithCancel(ctx)
		if err := a.DB.Jobs().Start(runCtx); err != nil {
			cancel()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cancel()
			stopCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
			defer done()
			_ = a.DB.Jobs().Stop(stopCtx)
		})

		// The platform: every gateway call is counted.
		sim := taobaosim.New(taobaosim.Options{RateLimit: -1})
		var calls atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/router/rest" {
				calls.Add(1)
			}
			sim.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		item := sim.AddItem(taobaosim.ItemSpec{Title: "T恤", Price: 5900, OuterID: "P-TS",
			SKUs: []taobaosim.SKUSpec{{Properties: "尺码:M", Price: 5900, Quantity: 100, OuterID: "TS-M"}}})
		numIID, skuID := item.NumIID, item.SKUs[0].SkuID

		k, err := a.Catalog.CreateSKU(ctx, catalog.SKUInput{Code: "TS-M", Name: "T恤 M", PriceFen: 5900})
		if err != nil {
			t.Fatal(err)
		}
		wh, err := a.Inventory.CreateWarehouse(ctx, "HZ", "杭州仓")
		if err != nil {
			t.Fatal(err)
		}
		c := newAPIClient(t, a, "ops", auth.RoleOperator)
		cr := sim.Credentials()
		var sh struct {
			ID string `json:"id"`
		}
		if code, body := c.do("POST", "/api/v1/shops", fmt.Sprintf(`{"platform":"taobao","name":"淘宝店","platform_shop_id":"%d","base_url":%q,
			"settings":{"push_stock":true,"pull_interval":"100ms"},
			"credentials":{"app_key":%q,"app_secret":%q,"access_token":%q,"refresh_token":%q}}`,
			cr.SellerID, srv.URL+"/router/rest", cr.AppKey, cr.AppSecret, cr.Session, cr.RefreshToken), &sh); code != http.StatusCreated {
			t.Fatalf("create shop = %d %s", code, body)
		}
		if _, err := a.Catalog.Bind(ctx, catalog.BindInput{ShopID: sh.ID, PlatformItemID: strconv.FormatInt(numIID, 10),
			PlatformSKUID: strconv.FormatInt(skuID, 10), SKUID: k.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Inventory.SetPolicy(ctx, inventory.Policy{ShopID: sh.ID, RatioPct: 100}); err != nil {
			t.Fatal(err)
		}
		receive := func(doc string, n int64) {
			t.Helper()
			if err := a.Inventory.Receive(ctx, inventory.DocRef{Type: "receipt", ID: doc, Line: 1}, wh.ID, k.ID, n); err != nil {
				t.Fatal(err)
			}
		}
		count := func(q string, args ...any) int64 {
			t.Helper()
			var n int64
			if err := a.DB.QueryRow(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		eventually := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(60 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("gave up waiting for %s (gateway calls %d, platform stock %d)", what, calls.Load(), sim.Quantity(numIID, skuID))
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		ticks := func() int64 {
			return count(`SELECT COUNT(*) FROM river_job WHERE kind = 'sync_tick' AND state = 'completed'`)
		}
		// settled: no sync job but the tick is running. (Jobs queued for
		// the paused shop stay queued, snoozing: they call nothing.)
		settled := func() bool {
			return count(`SELECT COUNT(*) FROM river_job WHERE kind LIKE 'sync%' AND kind <> 'sync_tick' AND state = 'running'`) == 0
		}
		patch := func(body string) {
			t.Helper()
			if code, resp := c.do("PATCH", "/api/v1/shops/"+sh.ID, body, nil); code != http.StatusOK {
				t.Fatalf("PATCH %s = %d %s", body, code, resp)
			}
		}

		// Active: pulled and pushed to.
		receive("R1", 5)
		eventually("the first push (5)", func() bool { return sim.Quantity(numIID, skuID) == 5 })

		patch(`{"status":"paused"}`)
		eventually("the jobs started before the pause to finish", settled)
		before, fromTick, lastJob := calls.Load(), ticks(), count(`SELECT COALESCE(MAX(id), 0) FROM river_job`)
		receive("R2", 3)
		eventually("the paused shop's stock marks to be acknowledged and three more ticks", func() bool {
			marks, err := a.Inventory.PendingPushes(ctx, sh.ID, 10)
			return err == nil && len(marks) == 0 && ticks() >= fromTick+3
		})
		eventually("the sync jobs to finish", settled)
		if got := calls.Load(); got != before {
			t.Fatalf("%d gateway calls to the paused shop's platform", got-before)
		}
		if q := sim.Quantity(numIID, skuID); q != 5 {
			t.Fatalf("platform stock = %d while paused, want 5 (nothing pushed)", q)
		}
		if n := count(`SELECT COUNT(*) FROM river_job WHERE id > $1 AND kind IN ('sync_pull_orders', 'sync_pull_refunds', 'sync_consume_messages', 'sync_reconcile')`, lastJob); n != 0 {
			t.Fatalf("%d pull, poll or reconcile jobs queued for the paused shop", n)
		}

		// Resumed: synced again, and the reconciliation pushes the stock
		// that changed while it was paused.
		patch(`{"status":"active"}`)
		eventually("the platform stock to be reconciled (8)", func() bool { return sim.Quantity(numIID, skuID) == 8 })
		eventually("calls to the platform again", func() bool { return calls.Load() > before })
	})
}
