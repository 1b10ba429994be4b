package sync

import (
	"context"
	"strings"
	stdsync "sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"omnihub/channel"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/storetest"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu stdsync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func countRows(t *testing.T, db store.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Two processes on one database: the failures engine B counts reach the
// failure-rate alert that engine A evaluates once B has flushed them, each
// call counted once; the window slides by minutes and the tick prunes old
// minutes.
func TestFailureRateAlertCountsEveryProcess(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		clock := &testClock{t: time.Date(2025, 3, 1, 12, 0, 30, 0, time.UTC)}
		cfg := Config{Alerts: AlertConfig{FailureRate: 0.2, FailureWindow: 5 * time.Minute, MinCalls: 20}}
		a := New(cfg, Deps{DB: db, Now: clock.now, ProcessID: "proc-a"})
		b := New(cfg, Deps{DB: db, Now: clock.now, ProcessID: "proc-b"})
		alerts := func() int64 {
			return countRows(t, db, `SELECT COUNT(*) FROM sync_alerts WHERE kind = $1 AND shop_id = $2`, AlertFailureRate, "s1")
		}

		for range 20 {
			a.observe("s1", "pull_orders", true)
		}
		for range 15 {
			b.observe("s1", "push_stock", false)
		}
		if err := a.checkAlerts(ctx); err != nil {
			t.Fatal(err)
		}
		if n := alerts(); n != 0 {
			t.Fatalf("%d alerts before B flushed: A saw failures it could not know of", n)
		}

		if err := b.flushCalls(ctx); err != nil {
			t.Fatal(err)
		}
		rates, err := a.failureRates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := rates["s1"]; got != (callCount{ok: 20, failed: 15}) {
			t.Fatalf("A's view after B's flush: %+v, want 20 ok (A's, unflushed) and 15 failed (B's)", got)
		}
		if err := a.checkAlerts(ctx); err != nil {
			t.Fatal(err)
		}
		if n := alerts(); n != 1 {
			t.Fatalf("%d failure-rate alerts after B's failures were flushed, want 1", n)
		}
		var msg string
		if err := db.QueryRow(ctx, `SELECT message FROM sync_alerts WHERE kind = $1`, AlertFailureRate).Scan(&msg); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, "43% of 35 platform calls") {
			t.Fatalf("alert message %q", msg)
		}

		// A flush moves counts from memory to the table: none counted twice.
		if err := a.flushCalls(ctx); err != nil {
			t.Fatal(err)
		}
		if rates, err = a.failureRates(ctx); err != nil || rates["s1"] != (callCount{ok: 20, failed: 15}) {
			t.Fatalf("after A's flush: %+v %v", rates["s1"], err)
		}
		// A second flush adds to the row the first one wrote.
		for range 5 {
			b.observe("s1", "push_stock", false)
		}
		if err := b.flushCalls(ctx); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT failed FROM sync_call_stats WHERE shop_id = 's1' AND kind = 'push_stock'`); n != 20 {
			t.Fatalf("push_stock failures in the table: %d, want 20 (15 + 5 in one row)", n)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM sync_call_stats`); n != 2 {
			t.Fatalf("%d rows, want 2 (one per minute, shop and kind)", n)
		}

		// Six minutes on, those calls are out of the 5-minute window.
		clock.advance(6 * time.Minute)
		if rates, err = b.failureRates(ctx); err != nil || rates["s1"].calls() != 0 {
			t.Fatalf("calls still in the window six minutes later: %+v %v", rates["s1"], err)
		}
		if err := b.checkAlerts(ctx); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM sync_call_stats`); n != 2 {
			t.Fatalf("the tick pruned minutes still kept: %d rows left", n)
		}
		clock.advance(time.Hour)
		if err := b.checkAlerts(ctx); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM sync_call_stats`); n != 0 {
			t.Fatalf("the tick left %d rows older than an hour", n)
		}
	})
}

// Each process's share of a platform app's rate is the configured rate
// divided by the live members: halved while two heartbeat, whole again once
// one has been silent for MemberTTL or has stopped. A shop's stock rate is
// not divided (one push-lease holder at a time uses it).
func TestRateShareFollowsLiveMembers(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		clock := &testClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
		cfg := Config{PlatformRate: 50, ShopRate: 20, HeartbeatEvery: 5 * time.Second} // MemberTTL 15s
		a := New(cfg, Deps{DB: db, Now: clock.now, ProcessID: "proc-a"})
		b := New(cfg, Deps{DB: db, Now: clock.now, ProcessID: "proc-b"})
		sh := shop.Shop{ID: "s1", Platform: channel.Taobao}
		sess := channel.Session{Credentials: channel.Credentials{AppKey: "app"}}
		// limits makes a stock call's waits, as a push does, and returns the
		// app's and the shop's buckets.
		limits := func(e *Engine) (app, shop *rate.Limiter) {
			t.Helper()
			if err := e.wait(ctx, sh, sess, 0); err != nil {
				t.Fatal(err)
			}
			if err := e.waitAPI(ctx, sh, sess, apiOrders); err != nil {
				t.Fatal(err)
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			if o := e.limiters["app:taobao:app:orders"]; o.Limit() != e.limiters["app:taobao:app"].Limit() {
				t.Fatalf("order reads at %v, stock at %v: one share for every family", o.Limit(), e.limiters["app:taobao:app"].Limit())
			}
			return e.limiters["app:taobao:app"], e.limiters["shop:s1"]
		}
		expect := func(what string, e *Engine, members int, appRate float64, appBurst int) {
			t.Helper()
			if e.Members() != members {
				t.Fatalf("%s: %d members, want %d", what, e.Members(), members)
			}
			app, shop := limits(e)
			if app.Limit() != rate.Limit(appRate) || app.Burst() != appBurst {
				t.Fatalf("%s: app bucket %v/s burst %d, want %v/s burst %d", what, app.Limit(), app.Burst(), appRate, appBurst)
			}
			if shop.Limit() != 20 || shop.Burst() != 20 {
				t.Fatalf("%s: shop bucket %v/s burst %d, want 20/s burst 20 (not divided)", what, shop.Limit(), shop.Burst())
			}
		}
		beat := func(es ...*Engine) {
			t.Helper()
			for _, e := range es {
				if err := e.heartbeat(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}

		expect("A before any heartbeat", a, 1, 50, 50)
		beat(a)
		expect("A alone", a, 1, 50, 50)
		beat(b, a)
		expect("A with B", a, 2, 25, 25)
		expect("B with A", b, 2, 25, 25)

		clock.advance(10 * time.Second) // B silent, but within MemberTTL
		beat(a)
		expect("A, B silent for 10s", a, 2, 25, 25)
		clock.advance(6 * time.Second) // B silent for 16s > 15s
		beat(a)
		expect("A, B silent for 16s", a, 1, 50, 50)

		// B stops cleanly: its row goes at once, A's share returns at its
		// next heartbeat without waiting for MemberTTL; B's counts are
		// flushed on the way out.
		b.Start(ctx)
		beat(a)
		expect("A with B started", a, 2, 25, 25)
		b.observe("s1", "push_stock", false)
		if err := b.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM sync_members WHERE id = 'proc-b'`); n != 0 {
			t.Fatalf("B's member row survived Stop (%d)", n)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM sync_call_stats WHERE shop_id = 's1' AND failed = 1`); n != 1 {
			t.Fatalf("B's last failure not flushed by Stop (%d rows)", n)
		}
		beat(a)
		expect("A after B stopped", a, 1, 50, 50)

		// The tick forgets members silent for an hour.
		clock.advance(2 * time.Hour)
		if err := b.checkAlerts(ctx); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, db, `SELECT COUNT(*) FROM sync_members`); n != 0 {
			t.Fatalf("%d long-silent members kept", n)
		}
	})
}
