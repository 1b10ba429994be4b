package sync

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"omnihub/store"
	"omnihub/store/storetest"
)

// waitStartupTick waits for the tick the rig's queue runs on start, so that
// a test drives every later tick itself.
func waitStartupTick(t *testing.T, db store.DB) {
	t.Helper()
	eventually(t, "the startup tick", 10*time.Second, func() bool {
		return countJobs(t, db, "sync_tick", "completed") > 0
	})
}

func countJobs(t *testing.T, db store.DB, kind, state string) int {
	t.Helper()
	var n int
	q, args := `SELECT COUNT(*) FROM river_job WHERE kind = $1`, []any{kind}
	if state != "" {
		q, args = q+` AND state = $2`, append(args, state)
	}
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// loseMark records a stock change without its push job, as if the process
// had crashed between the change and the job.
func (f *fakeStock) loseMark(shopID, sku string, qty int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := [2]string{shopID, sku}
	m := f.marks[k]
	if m == nil {
		m = &PushMark{SKUID: sku}
		f.marks[k] = m
	}
	m.Version++
	m.Sellable, m.MarkedAt = qty, time.Now()
	f.truth[k] = qty
}

func (p *fakePlatform) quantity(sku string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.qty[sku]
}

func (p *fakePlatform) setQuantity(sku string, n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.qty[sku] = n
}

func pushedAll(t *testing.T, r *rig, shopID string) func() bool {
	return func() bool {
		p, err := r.stock.PendingPushes(context.Background(), shopID, 1)
		if err != nil {
			t.Fatal(err)
		}
		return len(p) == 0
	}
}

// The tick starts a push round only for a shop with pending changes: with
// several processes ticking in turn, an idle round per shop and tick would
// be work done for nothing that also takes the push lease from real pushes.
// A change whose job was lost is still pushed by the next tick.
func TestTickPushesOnlyPendingChanges(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		waitStartupTick(t, db)
		sh := r.addShop(t, "tick").ID
		tick := func() {
			t.Helper()
			if err := (&tickWorker{e: r.e}).Work(ctx, &river.Job[TickArgs]{}); err != nil {
				t.Fatal(err)
			}
		}

		r.stock.set(ctx, t, db, r.e, sh, "sku-1", 5)
		eventually(t, "the change pushed", 10*time.Second, func() bool { return pushedAll(t, r, sh)() && r.plat.quantity("psku-1") == 5 })
		before := countJobs(t, db, "sync_push_stock", "")
		tick()
		tick()
		if n := countJobs(t, db, "sync_push_stock", ""); n != before {
			t.Fatalf("two ticks with nothing pending queued %d push jobs", n-before)
		}

		r.stock.loseMark(sh, "sku-1", 7)
		tick()
		if n := countJobs(t, db, "sync_push_stock", ""); n != before+1 {
			t.Fatalf("a tick with a lost change queued %d push jobs, want 1", n-before)
		}
		eventually(t, "the lost change pushed", 10*time.Second, func() bool { return pushedAll(t, r, sh)() && r.plat.quantity("psku-1") == 7 })
	})
}

// Reconciliation corrects channel stock under the shop's push lease: while
// a push job (of this process or another) holds it, the reconciler waits, so
// its correction can never land after a newer push. A SKU whose change is
// still queued is left to the pusher and reported pending, not pushed twice.
func TestReconcileTakesThePushLease(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		waitStartupTick(t, db)
		sh := r.addShop(t, "lease").ID

		r.stock.set(ctx, t, db, r.e, sh, "sku-1", 12)
		eventually(t, "the change pushed", 10*time.Second, func() bool { return pushedAll(t, r, sh)() && r.plat.quantity("psku-1") == 12 })
		r.plat.setQuantity("psku-1", 50) // changed on the platform: drift

		// Take the lease as a push job would (once the last one let go).
		eventually(t, "the push lease", 10*time.Second, func() bool {
			got, err := r.e.acquirePushLease(ctx, sh, 0, "job-elsewhere")
			if err != nil {
				t.Fatal(err)
			}
			return got
		})
		type result struct {
			rep ReconcileReport
			err error
		}
		done := make(chan result, 1)
		go func() {
			rep, err := r.e.Reconcile(ctx, sh)
			done <- result{rep, err}
		}()
		select {
		case res := <-done:
			t.Fatalf("reconciliation finished while a push job held the lease: %+v %v", res.rep, res.err)
		case <-time.After(300 * time.Millisecond):
		}
		if q := r.plat.quantity("psku-1"); q != 50 {
			t.Fatalf("channel set to %d while a push job held the lease", q)
		}
		r.e.releasePushLease(ctx, sh, "job-elsewhere")
		res := <-done
		if res.err != nil || len(res.rep.StockDrift) != 1 || !res.rep.StockDrift[0].Corrected || r.plat.quantity("psku-1") != 12 {
			t.Fatalf("after the lease was released: %+v %v, channel %d", res.rep, res.err, r.plat.quantity("psku-1"))
		}

		// A change still queued for the pusher: the reconciler leaves it.
		r.stock.loseMark(sh, "sku-2", 7)
		r.plat.setQuantity("psku-2", 50)
		rep, err := r.e.Reconcile(ctx, sh)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.StockDrift) != 1 || !rep.StockDrift[0].Pending || rep.StockDrift[0].Corrected || len(rep.Errors) != 0 {
			t.Fatalf("queued change: %+v", rep)
		}
		if q := r.plat.quantity("psku-2"); q != 50 {
			t.Fatalf("reconciliation pushed a queued change (channel %d)", q)
		}
		if err := (&tickWorker{e: r.e}).Work(ctx, &river.Job[TickArgs]{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the queued change pushed", 10*time.Second, func() bool { return pushedAll(t, r, sh)() && r.plat.quantity("psku-2") == 7 })
		eventually(t, "the lease free again", 10*time.Second, func() bool {
			var owner string
			if err := db.QueryRow(ctx, `SELECT lease_owner FROM sync_push_rounds WHERE shop_id = $1`, sh).Scan(&owner); err != nil {
				t.Fatal(err)
			}
			return owner == ""
		})
	})
}

// A changed rate applies to the limiter already built for its key.
func TestLimiterFollowsRateChanges(t *testing.T) {
	e := New(Config{}, Deps{})
	l := e.limiter("shop:s1", 5)
	if l.Limit() != 5 || l.Burst() != 5 {
		t.Fatalf("new limiter %v/%d", l.Limit(), l.Burst())
	}
	l2 := e.limiter("shop:s1", 50)
	if l2 != l || l.Limit() != 50 || l.Burst() != 50 {
		t.Fatalf("after a rate change: same=%v limit %v burst %d", l2 == l, l.Limit(), l.Burst())
	}
}
