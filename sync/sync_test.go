package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	stdsync "sync"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

// Many concurrent stock changes across shops, with 5xx and rate-limit
// bursts on the channel: every channel ends at the latest value, and no two
// pushes for one shop ever overlap (an older value can never win).
func TestStockPropagationConverges(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		shops := []string{r.addShop(t, "a").ID, r.addShop(t, "b").ID, r.addShop(t, "c").ID}
		r.plat.mu.Lock()
		r.plat.failPushes, r.plat.rateLimit = 3, 3
		r.plat.mu.Unlock()

		var wg stdsync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(g), 1))
				for range 40 {
					sh := shops[rng.IntN(len(shops))]
					r.stock.set(ctx, t, db, r.e, sh, fmt.Sprintf("sku-%d", rng.IntN(5)), int64(rng.IntN(100)))
				}
			}()
		}
		wg.Wait()
		r.stock.set(ctx, t, db, r.e, shops[0], "unbound", 5) // no listing: acknowledged, not pushed

		eventually(t, "channels to converge", 20*time.Second, func() bool {
			for _, sh := range shops {
				if p, _ := r.stock.PendingPushes(ctx, sh, 1000); len(p) > 0 {
					return false
				}
			}
			return true
		})
		r.plat.mu.Lock()
		defer r.plat.mu.Unlock()
		// Every shop's latest version was acknowledged, i.e. accepted by the
		// channel (the one-shop test checks the pushed value itself).
		r.stock.mu.Lock()
		defer r.stock.mu.Unlock()
		for k, m := range r.stock.marks {
			if r.stock.acked[k] != m.Version {
				t.Errorf("%v: acked %d, latest version %d", k, r.stock.acked[k], m.Version)
			}
		}
		if r.plat.failPushes != 0 || r.plat.rateLimit != 0 {
			t.Errorf("faults not exercised: %d %d", r.plat.failPushes, r.plat.rateLimit)
		}
		var logged int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sync_push_log`).Scan(&logged); err != nil || logged == 0 {
			t.Errorf("push log empty: %d %v", logged, err)
		}
	})
}

// One shop, one SKU, a fast stream of values: the channel must end at the
// last one, which proves the lease keeps pushes in order.
func TestStockPushOrderOneShop(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "solo").ID
		for i := range 60 {
			r.stock.set(ctx, t, db, r.e, sh, "sku-1", int64(i))
			if i%10 == 0 {
				time.Sleep(30 * time.Millisecond)
			}
		}
		eventually(t, "last value on channel", 20*time.Second, func() bool {
			r.plat.mu.Lock()
			defer r.plat.mu.Unlock()
			p, _ := r.stock.PendingPushes(ctx, sh, 10)
			return len(p) == 0 && r.plat.qty["psku-1"] == 59
		})
		r.plat.mu.Lock()
		defer r.plat.mu.Unlock()
		if r.plat.maxFlight > 1 {
			t.Errorf("%d pushes overlapped for one shop", r.plat.maxFlight)
		}
		if r.plat.pushes >= 60 {
			t.Errorf("no coalescing: %d push calls for 60 changes", r.plat.pushes)
		}
	})
}

// An expired session is refreshed and the push goes through with the new
// token, which is stored sealed.
func TestPushRefreshesExpiredSession(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "exp").ID
		r.plat.mu.Lock()
		r.plat.expired = true
		r.plat.mu.Unlock()
		r.stock.set(ctx, t, db, r.e, sh, "sku-2", 7)
		eventually(t, "push after refresh", 10*time.Second, func() bool {
			r.plat.mu.Lock()
			defer r.plat.mu.Unlock()
			return r.plat.qty["psku-2"] == 7
		})
		sess, _, err := r.shops.Session(ctx, sh)
		if err != nil || sess.Credentials.AccessToken != "fresh" {
			t.Fatalf("token not stored: %v %v", sess.Credentials.AccessToken, err)
		}
	})
}

// Pull walks windows within the platform's limit and pages, advances the
// watermark, and re-reads the overlap harmlessly.
func TestPullOrdersWindowsAndPaging(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "pull").ID
		now := time.Now().UTC()
		r.plat.mu.Lock()
		for i := range 20 {
			r.plat.orders = append(r.plat.orders, channel.Order{PlatformOrderID: fmt.Sprint("T", i), ModifiedAt: now.Add(-time.Duration(i) * time.Hour), Status: channel.OrderPaid})
		}
		r.plat.mu.Unlock()
		if _, err := db.Jobs().Insert(ctx, PullOrdersArgs{ShopID: sh}, nil); err != nil {
			t.Fatal(err)
		}
		// Orders within the first pull's 24h look-back: i = 0..19 (all).
		eventually(t, "orders pulled", 10*time.Second, func() bool { return r.orders.count() == 20 })
		// The watermark is stored after the last window's orders are
		// ingested, so it may trail the count by a moment.
		var wm time.Time
		eventually(t, "watermark stored", 10*time.Second, func() bool {
			var err error
			wm, err = r.e.watermark(ctx, sh, "orders")
			return err == nil && now.Sub(wm) <= time.Minute
		})
		if wm.IsZero() {
			t.Fatal("no watermark")
		}
		// A late order appears; the next pull sees it.
		r.plat.mu.Lock()
		r.plat.orders = append(r.plat.orders, channel.Order{PlatformOrderID: "LATE", ModifiedAt: time.Now().UTC(), Status: channel.OrderPaid})
		r.plat.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		if _, err := db.Jobs().Insert(ctx, PullOrdersArgs{ShopID: sh}, nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, "late order", 10*time.Second, func() bool { return r.orders.count() == 21 })
	})
}

// Messages are stored once however often they arrive, and processing
// fetches the current order.
func TestInboxDeduplicates(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "inbox")
		r.plat.mu.Lock()
		r.plat.orders = append(r.plat.orders, channel.Order{PlatformOrderID: "M1", ModifiedAt: time.Now(), Status: channel.OrderPaid})
		r.plat.mu.Unlock()
		msg := channel.Message{ID: "msg-1", Kind: channel.MsgOrderPaid, PlatformShopID: sh.PlatformShopID, PlatformOrderID: "M1"}
		total := 0
		for range 3 {
			n, err := r.e.storeMessages(ctx, sh.Platform, sh.ID, []channel.Message{msg, msg})
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
		if total != 1 {
			t.Fatalf("stored %d copies, want 1", total)
		}
		eventually(t, "message processed", 10*time.Second, func() bool { return r.orders.count() == 1 })
		var backlog int
		eventually(t, "inbox drained", 5*time.Second, func() bool {
			_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM sync_inbox WHERE processed_at IS NULL`).Scan(&backlog)
			return backlog == 0
		})
		if _, err := r.e.storeMessages(ctx, sh.Platform, sh.ID, []channel.Message{{Kind: channel.MsgOrderPaid}}); err == nil {
			t.Fatal("message without id accepted")
		}
	})
}

// Reconciliation ingests what the pull missed and corrects channel drift.
func TestReconcileRepairs(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "rec").ID
		now := time.Now().UTC()
		r.plat.mu.Lock()
		r.plat.orders = []channel.Order{{PlatformOrderID: "MISS1", ModifiedAt: now.Add(-2 * time.Hour)}, {PlatformOrderID: "MISS2", ModifiedAt: now.Add(-10 * time.Hour)}}
		r.plat.qty["psku-9"] = 50 // channel says 50
		r.plat.mu.Unlock()
		r.stock.mu.Lock()
		r.stock.truth[[2]string{sh, "sku-9"}] = 12 // policy says 12
		r.stock.mu.Unlock()
		rep, err := r.e.Reconcile(ctx, sh)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OrdersRepaired != 2 || len(rep.StockDrift) != 1 || !rep.StockDrift[0].Corrected || rep.StockDrift[0].Channel != 50 {
			t.Fatalf("report: %+v", rep)
		}
		r.plat.mu.Lock()
		got := r.plat.qty["psku-9"]
		r.plat.mu.Unlock()
		if got != 12 {
			t.Fatalf("channel quantity %d after reconcile, want 12", got)
		}
		again, err := r.e.Reconcile(ctx, sh)
		if err != nil || again.OrdersRepaired != 0 || len(again.StockDrift) != 0 {
			t.Fatalf("second reconcile should find nothing: %+v %v", again, err)
		}
		runs, err := r.e.ReconcileRuns(ctx, sh, 10)
		if err != nil || len(runs) != 2 {
			t.Fatalf("runs: %d %v", len(runs), err)
		}
	})
}

// A job that keeps failing becomes a dead letter and raises an alert that is
// delivered to a WeCom-format webhook.
func TestDeadLetterRaisesAlert(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		got := make(chan map[string]any, 4)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			var m map[string]any
			body, _ := io.ReadAll(req.Body)
			_ = json.Unmarshal(body, &m)
			got <- m
			_, _ = w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
		}))
		defer srv.Close()
		r := newRig(t, db, Config{Alerts: AlertConfig{Webhooks: []Webhook{{Kind: WebhookWeCom, URL: srv.URL}}}})
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go r.e.WatchDeadLetters(wctx, db.Jobs())
		sh := r.addShop(t, "dead").ID
		r.plat.mu.Lock()
		r.plat.failPushes = 1000
		r.plat.mu.Unlock()
		r.stock.set(ctx, t, db, r.e, sh, "sku-3", 1)
		select {
		case m := <-got:
			if m["msgtype"] != "text" {
				t.Fatalf("wecom body: %v", m)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no alert delivered")
		}
		dl, err := db.Jobs().DeadLetters(ctx, 0, 10)
		if err != nil || len(dl) != 1 || dl[0].Kind != "sync_push_stock" {
			t.Fatalf("dead letters: %+v %v", dl, err)
		}
		alerts, _ := r.e.Alerts(ctx, 10)
		if len(alerts) != 1 || alerts[0].Kind != AlertDeadLetter {
			t.Fatalf("alerts: %+v", alerts)
		}
		// Retrying the dead letter after the platform recovers pushes the value.
		r.plat.mu.Lock()
		r.plat.failPushes = 0
		r.plat.mu.Unlock()
		if err := db.Jobs().Retry(ctx, dl[0].ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "retried push", 10*time.Second, func() bool {
			r.plat.mu.Lock()
			defer r.plat.mu.Unlock()
			return r.plat.qty["psku-3"] == 1
		})
	})
}

func TestAlertBodies(t *testing.T) {
	a := Alert{Kind: AlertFailureRate, Message: "shop x: 50% failed"}
	now := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		wh   Webhook
		want []string
	}{
		{Webhook{Kind: WebhookWeCom, URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}, []string{`"msgtype":"text"`, `"content":"[OmniHub] failure_rate`}},
		{Webhook{Kind: WebhookDingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=t", Secret: "SEC"}, []string{`"msgtype":"text"`}},
		{Webhook{Kind: WebhookFeishu, URL: "https://open.feishu.cn/open-apis/bot/v2/hook/x", Secret: "SEC"}, []string{`"msg_type":"text"`, `"sign":"`, `"timestamp":"1700000000"`}},
		{Webhook{Kind: WebhookGeneric, URL: "http://x"}, []string{`"kind":"failure_rate"`}},
	} {
		target, body, err := AlertBody(tc.wh, a, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !contains(string(body), w) {
				t.Errorf("%s body %s lacks %s", tc.wh.Kind, body, w)
			}
		}
		if tc.wh.Kind == WebhookDingTalk && (!contains(target, "timestamp=1700000000000") || !contains(target, "sign=")) {
			t.Errorf("dingtalk url not signed: %s", target)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
