package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"omnihub/aftersales"
	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/config"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/shop"
	"omnihub/store/storetest"
	syncer "omnihub/sync"
)

// countCalls serves h and counts every request that reaches it.
func countCalls(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// newPauseWorld is a refund world (a serving OmniHub, a Taobao shop polling
// TMC, a Douyin shop pushing to the webhook) whose two simulators count
// every call they receive.
func newPauseWorld(t *testing.T, engine string) (w *refundWorld, tbCalls, dyCalls *atomic.Int64) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Jobs.BackoffBase, cfg.Jobs.BackoffMax = 50*time.Millisecond, time.Second
	if engine == "postgres" {
		cfg.DB = storetest.FreshPostgresURL(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// A tick of 100 ms makes the engine's pause recheck 1.2 s.
	a, err := New(ctx, cfg, NewLogger(cfg.Log, io.Discard), Options{RunWorkers: true, Migrate: true, SyncTick: 100 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	w = &refundWorld{t: t, ctx: context.Background(), a: a, sku: map[string]string{}}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stop: %v", err)
		}
		a.Close()
	})

	wh, err := a.Inventory.CreateWarehouse(w.ctx, "HZ", "杭州仓")
	if err != nil {
		t.Fatal(err)
	}
	w.wh = wh.ID
	a.Orders.SetDefaultWarehouse(wh.ID)
	for i, code := range []string{"TS-M", "CAP"} {
		k, err := a.Catalog.CreateSKU(w.ctx, catalog.SKUInput{Code: code, Name: code, PriceFen: 5900})
		if err != nil {
			t.Fatal(err)
		}
		w.sku[code] = k.ID
		if err := a.Inventory.Receive(w.ctx, inventory.DocRef{Type: "opening", ID: "OPEN", Line: i + 1}, wh.ID, k.ID, 20); err != nil {
			t.Fatal(err)
		}
	}

	w.tb = taobaosim.New(taobaosim.Options{RateLimit: -1})
	tbSrv, tbCalls := countCalls(t, w.tb)
	w.tbItem = w.tb.AddItem(taobaosim.ItemSpec{Title: "T恤", Price: 5900, OuterID: "P-TS", SKUs: []taobaosim.SKUSpec{
		{Properties: "尺码:M", Price: 5900, Quantity: 100, OuterID: "TS-M"}}})
	tc := w.tb.Credentials()
	if w.tbShop, err = a.Shops.Create(w.ctx, shop.New{Platform: channel.Taobao, Name: "淘宝店", PlatformShopID: strconv.FormatInt(tc.SellerID, 10),
		BaseURL: tbSrv.URL + "/router/rest", Credentials: channel.Credentials{AppKey: tc.AppKey, AppSecret: tc.AppSecret, AccessToken: tc.Session,
			RefreshToken: tc.RefreshToken, ExpiresAt: tc.ExpiresAt}}); err != nil {
		t.Fatal(err)
	}

	w.dy = douyinsim.New(douyinsim.Options{WebhookURL: "http://" + addr + "/api/v1/push/douyin", PushBackoff: 50 * time.Millisecond})
	t.Cleanup(w.dy.Close)
	dySrv, dyCalls := countCalls(t, w.dy)
	w.dyCap = w.dy.AddProduct(douyinsim.Product{Title: "帽子", SKUs: []douyinsim.SKU{{Code: "CAP", Spec: "颜色:黑", Price: 3900, Stock: 100}}}).SKUs[0].SkuID
	dc := w.dy.Credentials()
	if w.dyShop, err = a.Shops.Create(w.ctx, shop.New{Platform: channel.Douyin, Name: "抖店", PlatformShopID: strconv.FormatInt(dc.ShopID, 10),
		BaseURL: dySrv.URL, Credentials: channel.Credentials{AppKey: dc.AppKey, AppSecret: dc.AppSecret, AccessToken: dc.AccessToken,
			RefreshToken: dc.RefreshToken, ExpiresAt: dc.ExpiresAt}}); err != nil {
		t.Fatal(err)
	}
	// Reconciliation compares the platforms' stock with the policy's.
	for _, sh := range []shop.Shop{w.tbShop, w.dyShop} {
		if _, err := a.Inventory.SetPolicy(w.ctx, inventory.Policy{ShopID: sh.ID, RatioPct: 100}); err != nil {
			t.Fatal(err)
		}
	}
	return w, tbCalls, dyCalls
}

// TestPausedShopWorkWaitsForResume pauses a Taobao and a Douyin shop with
// work of every kind queued for them: jobs queued before the pause (order
// and refund pulls, a message poll, a reconciliation, token refreshes), a
// shipment upload and an after-sales answer made while paused, and orders
// placed while paused (Douyin pushes its messages, Taobao queues them on
// TMC). While paused no call reaches either platform and nothing changes
// there, the pushed messages wait unprocessed in the inbox, no job spends
// an attempt and none becomes a dead letter. Resumed, all of it is done:
// the orders are in, the shipment and the answer reached the platforms,
// the parked messages are processed, and both shops are reconciled.
func TestPausedShopWorkWaitsForResume(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		w, tbCalls, dyCalls := newPauseWorld(t, engine)
		a, ctx := w.a, w.ctx
		count := func(q string, args ...any) int64 {
			t.Helper()
			var n int64
			if err := a.DB.QueryRow(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		admin := newCaseAPI(t, a, "ops")
		setStatus := func(sh shop.Shop, st shop.Status) {
			t.Helper()
			req := httptest.NewRequest("PATCH", "/api/v1/shops/"+sh.ID, strings.NewReader(`{"status":"`+string(st)+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+admin.token)
			rec := httptest.NewRecorder()
			admin.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("PATCH shop %s %s = %d %s", sh.ID, st, rec.Code, rec.Body)
			}
		}
		tsLine := func(n int64) taobaosim.LineSpec {
			return taobaosim.LineSpec{NumIID: w.tbItem.NumIID, SkuID: w.tbItem.SKUs[0].SkuID, Num: n}
		}
		dyOrder := func(phone string) int64 {
			t.Helper()
			id, err := w.dy.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: w.dyCap, Qty: 1}}, Pay: true,
				Name: "李雷", Phone: phone, Province: "广东省", City: "广州市", District: "天河区", Detail: "天河路 1 号"})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}

		// Active: a Taobao order with a refund request, a Douyin order.
		tid1, t1 := w.taobaoTrade(tsLine(1))
		w.order(w.tbShop.ID, tid1, order.Approved)
		r1, err := w.tb.RequestRefund(tid1, t1.Lines[0].Oid, taobaosim.RefundSpec{Reason: "拍错了"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := w.caseOf(w.tbShop.ID, r1, aftersales.Requested)
		d1 := dyOrder("13700000001")
		od1 := w.order(w.dyShop.ID, d1, order.Approved)

		// Paused. Once the jobs that were running have finished, nothing
		// may reach either platform.
		setStatus(w.tbShop, shop.Paused)
		setStatus(w.dyShop, shop.Paused)
		w.eventually("the jobs running at the pause to finish", func() (bool, string) {
			n := count(`SELECT COUNT(*) FROM river_job WHERE kind <> 'sync_tick' AND state = 'running'`)
			return n == 0, fmt.Sprintf("%d running", n)
		})
		tb0, dy0 := tbCalls.Load(), dyCalls.Load()
		refundBefore, _ := w.tb.Refund(r1)

		// Work for the paused shops: jobs as the tick or a person queued
		// them before the pause…
		var held []int64
		for _, args := range []river.JobArgs{
			syncer.PullOrdersArgs{ShopID: w.tbShop.ID}, syncer.PullOrdersArgs{ShopID: w.dyShop.ID},
			syncer.PullRefundsArgs{ShopID: w.tbShop.ID}, syncer.PullRefundsArgs{ShopID: w.dyShop.ID},
			syncer.ConsumeArgs{ShopID: w.tbShop.ID}, syncer.ReconcileArgs{ShopID: w.dyShop.ID},
			syncer.RefreshTokenArgs{ShopID: w.tbShop.ID}, syncer.RefreshTokenArgs{ShopID: w.dyShop.ID},
		} {
			id, err := a.DB.Jobs().Insert(ctx, args, nil)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, id)
		}
		// …an after-sales answer and a shipment made while paused…
		if _, err := a.Aftersales.Approve(ctx, c1.ID, "alice", "同意"); err != nil {
			t.Fatal(err)
		}
		w.shipFromWarehouse(w.dyShop.ID, od1.ID, strconv.FormatInt(d1, 10), "ZT0001")
		rows, err := a.DB.Query(ctx, `SELECT id FROM river_job WHERE kind IN ('aftersales_respond', 'sync_upload_shipment')`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			held = append(held, id)
		}
		rows.Close()
		if len(held) != 10 {
			t.Fatalf("%d jobs held, want 8 queued, an answer and a shipment", len(held))
		}
		// …and orders placed on the platforms meanwhile: Douyin pushes
		// its messages (verified and stored), Taobao queues them on TMC.
		d2 := dyOrder("13700000002")
		tid3, _ := w.taobaoTrade(tsLine(1))
		pushCtx, done := context.WithTimeout(ctx, 30*time.Second)
		err = w.dy.WaitPushes(pushCtx)
		done()
		if err != nil {
			t.Fatal(err)
		}
		parked := func() int64 {
			return count(`SELECT COUNT(*) FROM sync_inbox WHERE shop_id = $1 AND ref_id = $2 AND processed_at IS NULL`, w.dyShop.ID, strconv.FormatInt(d2, 10))
		}
		if parked() == 0 {
			t.Fatal("the messages pushed for the paused Douyin shop are not in its inbox")
		}

		// Every held job has looked at its shop at least twice (each look a
		// snooze), and the pushed messages' jobs have parked.
		job := func(id int64) *rivertype.JobRow {
			t.Helper()
			j, err := a.DB.Jobs().Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
		w.eventually("every held job to snooze twice", func() (bool, string) {
			for _, id := range held {
				j := job(id)
				var md struct {
					Snoozes int `json:"snoozes"`
				}
				_ = json.Unmarshal(j.Metadata, &md)
				if md.Snoozes < 2 {
					return false, fmt.Sprintf("%s (job %d) %s after %d snoozes", j.Kind, id, j.State, md.Snoozes)
				}
			}
			return true, ""
		})
		w.eventually("the pushed messages' jobs to park", func() (bool, string) {
			n := count(`SELECT COUNT(*) FROM river_job WHERE kind = 'sync_process_message' AND state <> 'completed'`)
			return n == 0, fmt.Sprintf("%d message jobs not completed", n)
		})

		// Nothing reached the platforms, nothing changed there.
		if n := tbCalls.Load() - tb0; n != 0 {
			t.Fatalf("%d calls to Taobao while its shop was paused", n)
		}
		if n := dyCalls.Load() - dy0; n != 0 {
			t.Fatalf("%d calls to Douyin while its shop was paused", n)
		}
		if v, _ := w.dy.Order(d1); v.Status == douyinsim.StatusShipped {
			t.Fatal("shipment uploaded to the paused Douyin shop")
		}
		if r, _ := w.tb.Refund(r1); r.Status != refundBefore.Status {
			t.Fatalf("refund %d went from %s to %s while the shop was paused", r1, refundBefore.Status, r.Status)
		}
		if w.tb.Pending() == 0 {
			t.Fatal("the paused Taobao shop's TMC messages were consumed")
		}
		if parked() == 0 {
			t.Fatal("the parked Douyin messages were processed while paused")
		}
		for _, p := range []struct {
			shopID string
			id     int64
		}{{w.dyShop.ID, d2}, {w.tbShop.ID, tid3}} {
			if _, err := a.Orders.FindByPlatformID(ctx, p.shopID, strconv.FormatInt(p.id, 10)); err == nil {
				t.Fatalf("order %d ingested from a paused shop", p.id)
			}
		}
		// No attempt spent, no dead letter.
		for _, id := range held {
			if j := job(id); j.Attempt > 1 || len(j.Errors) > 0 || j.State == rivertype.JobStateDiscarded || j.State == rivertype.JobStateRetryable {
				t.Fatalf("%s (job %d) while paused: %s, attempt %d, errors %v", j.Kind, id, j.State, j.Attempt, j.Errors)
			}
		}
		w.noDeadJobs()

		// Resumed: everything that waited is done.
		resumed := time.Now()
		setStatus(w.tbShop, shop.Active)
		setStatus(w.dyShop, shop.Active)
		w.eventually("the shipment uploaded to Douyin", func() (bool, string) {
			v, _ := w.dy.Order(d1)
			return v.Status == douyinsim.StatusShipped && v.TrackingNo == "ZT0001", strconv.Itoa(v.Status) + " " + v.TrackingNo
		})
		w.eventually("the refund agreed on Taobao", func() (bool, string) {
			r, _ := w.tb.Refund(r1)
			return r.Status == "SUCCESS", r.Status
		})
		w.order(w.dyShop.ID, d2, order.Approved)
		w.order(w.tbShop.ID, tid3, order.Approved)
		w.eventually("the parked messages processed", func() (bool, string) {
			n := parked()
			return n == 0, fmt.Sprintf("%d unprocessed", n)
		})
		w.eventually("the held jobs to complete", func() (bool, string) {
			for _, id := range held {
				if j := job(id); j.State != rivertype.JobStateCompleted {
					return false, fmt.Sprintf("%s (job %d) %s %v", j.Kind, id, j.State, j.Errors)
				}
			}
			return true, ""
		})
		for _, sh := range []shop.Shop{w.tbShop, w.dyShop} {
			w.eventually("a reconciliation of "+sh.Name+" after the resume", func() (bool, string) {
				runs, err := a.Sync.ReconcileRuns(ctx, sh.ID, 5)
				if err != nil {
					return false, err.Error()
				}
				return len(runs) > 0 && !runs[0].StartedAt.Before(resumed.Add(-time.Second)), fmt.Sprintf("%d runs", len(runs))
			})
		}
		if tbCalls.Load() == tb0 || dyCalls.Load() == dy0 {
			t.Fatal("no call to the platforms after the resume")
		}
		w.noDeadJobs()
		w.checksClean()
	})
}
