package sync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

func fakeOrder(id string, mod time.Time) channel.Order {
	return channel.Order{PlatformOrderID: id, ModifiedAt: mod, Status: channel.OrderPaid}
}

func fakeRefund(id, orderID string, mod time.Time) channel.Refund {
	return channel.Refund{PlatformRefundID: id, PlatformOrderID: orderID, Kind: channel.RefundOnly,
		Status: channel.RefundRequested, PlatformStatus: "WAIT_SELLER_AGREE", Amount: 100, ModifiedAt: mod}
}

// waitJob waits until a job is finished (or, failing, waiting to retry) and
// returns its state.
func waitJob(t *testing.T, db store.DB, id int64) rivertype.JobState {
	t.Helper()
	var st rivertype.JobState
	eventually(t, fmt.Sprintf("job %d to finish", id), 10*time.Second, func() bool {
		j, err := db.Jobs().Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		st = j.State
		return st == rivertype.JobStateCompleted || st == rivertype.JobStateDiscarded || st == rivertype.JobStateCancelled || st == rivertype.JobStateRetryable
	})
	return st
}

func pullRefundsNow(t *testing.T, r *rig, shopID string) {
	t.Helper()
	id, err := r.db.Jobs().Insert(context.Background(), PullRefundsArgs{ShopID: shopID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := waitJob(t, r.db, id); st != rivertype.JobStateCompleted {
		j, _ := r.db.Jobs().Get(context.Background(), id)
		t.Fatalf("refund pull ended %s: %+v", st, j.Errors)
	}
}

func watermarkNear(t *testing.T, r *rig, shopID string, want time.Time) {
	t.Helper()
	wm, err := r.e.watermark(context.Background(), shopID, refundStream)
	if err != nil {
		t.Fatal(err)
	}
	if d := wm.Sub(want); d < -time.Second || d > time.Second {
		t.Fatalf("refund watermark %v, want %v", wm, want)
	}
}

// Refunds whose messages were lost reach the sink through the refund pull
// the tick schedules, across windows and pages; a refund whose order OmniHub
// does not have yet brings its order in first. Pulling the same refunds again
// creates no second case.
func TestRefundPullIngestsRefundsWhoseMessagesWereLost(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRefundRig(t, db, Config{})
		sh := r.addShop(t, "refunds").ID
		now := time.Now().UTC()
		r.plat.mu.Lock()
		// O4 and O6 were last modified before the order pull's first
		// look-back: only the refund pull can bring them in.
		for i, mod := range []time.Duration{2 * time.Hour, 2 * time.Hour, 2 * time.Hour, 30 * time.Hour, 3 * time.Hour, 30 * time.Hour} {
			r.plat.orders = append(r.plat.orders, fakeOrder(fmt.Sprint("O", i+1), now.Add(-mod)))
		}
		// Four refunds in the last window (more than a page), two further back.
		for i, age := range []time.Duration{50 * time.Minute, 40 * time.Minute, 30 * time.Minute, 20 * time.Minute, 13 * time.Hour, 20 * time.Hour} {
			r.plat.refunds = append(r.plat.refunds, fakeRefund(fmt.Sprint("R", i+1), fmt.Sprint("O", i+1), now.Add(-age)))
		}
		r.plat.mu.Unlock()

		// No message reached the inbox; the tick schedules the pulls.
		if _, err := db.Jobs().Insert(ctx, TickArgs{}, nil); err != nil {
			t.Fatal(err)
		}
		eventually(t, "six cases", 10*time.Second, func() bool { n, _, _ := r.refunds.state(sh, "R1"); return n == 6 })
		eventually(t, "refund pull done", 10*time.Second, func() bool {
			var n int
			_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync_pull_refunds' AND state = 'completed'`).Scan(&n)
			return n == 1
		})
		for _, id := range []string{"O4", "O6"} {
			r.orders.mu.Lock()
			_, ok := r.orders.orders[sh+"/"+id]
			r.orders.mu.Unlock()
			if !ok {
				t.Fatalf("order %s of a pulled refund not ingested", id)
			}
		}
		watermarkNear(t, r, sh, now)
		_, creates, _ := r.refunds.state(sh, "R1")
		if creates != 6 {
			t.Fatalf("%d cases created, want 6", creates)
		}

		// The same refunds again, from scratch: no second case.
		if _, err := db.Exec(ctx, `DELETE FROM sync_watermarks WHERE shop_id = $1 AND stream = 'refunds'`, sh); err != nil {
			t.Fatal(err)
		}
		r.refunds.mu.Lock()
		applies := r.refunds.applies
		r.refunds.mu.Unlock()
		pullRefundsNow(t, r, sh)
		n, creates, _ := r.refunds.state(sh, "R1")
		r.refunds.mu.Lock()
		reapplied := r.refunds.applies - applies
		r.refunds.mu.Unlock()
		if n != 6 || creates != 6 || reapplied < 6 {
			t.Fatalf("second pull: %d cases, %d created, %d applies; want 6, 6 and at least 6", n, creates, reapplied)
		}
	})
}

// A refund whose order cannot be ingested does not fail its window: the
// other refunds are applied, the watermark waits at the deferred refund, and
// the next pull applies it once its order exists. A refund the sink refuses
// as invalid is skipped without holding anything back; a deferred refund
// older than the reconciliation look-back no longer holds the watermark.
func TestRefundPullDefersRefundWhoseOrderIsMissing(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRefundRig(t, db, Config{})
		sh := r.addShop(t, "defer").ID
		now := time.Now().UTC()
		if _, err := r.orders.Ingest(ctx, sh, fakeOrder("HAVE", now.Add(-5*time.Hour))); err != nil {
			t.Fatal(err)
		}
		late := fakeRefund("LATE", "GONE", now.Add(-3*time.Hour)) // its order is nowhere yet
		bad := fakeRefund("BAD", "HAVE", now.Add(-time.Hour))
		bad.Kind = "bad"
		r.plat.mu.Lock()
		r.plat.refunds = []channel.Refund{late, fakeRefund("OK", "HAVE", now.Add(-2*time.Hour)), bad}
		r.plat.mu.Unlock()

		pullRefundsNow(t, r, sh)
		if n, _, st := r.refunds.state(sh, "OK"); n != 1 || st != channel.RefundRequested {
			t.Fatalf("after the first pull: %d cases, OK is %q", n, st)
		}
		watermarkNear(t, r, sh, late.ModifiedAt)

		// The order shows up on the platform: the next pull re-reads from
		// the deferred refund and applies it through the order.
		r.plat.mu.Lock()
		r.plat.orders = append(r.plat.orders, fakeOrder("GONE", now.Add(-4*time.Hour)))
		r.plat.mu.Unlock()
		pullRefundsNow(t, r, sh)
		if n, creates, st := r.refunds.state(sh, "LATE"); n != 2 || creates != 2 || st != channel.RefundRequested {
			t.Fatalf("after the order arrived: %d cases, %d created, LATE is %q", n, creates, st)
		}
		watermarkNear(t, r, sh, time.Now().UTC())

		// With a look-back shorter than its age, a deferred refund lets the
		// watermark go (an engine of its own, driven directly).
		r.plat.mu.Lock()
		r.plat.refunds = append(r.plat.refunds, fakeRefund("OLD", "NOWHERE", now.Add(-90*time.Minute)))
		r.plat.mu.Unlock()
		if _, err := db.Exec(ctx, `DELETE FROM sync_watermarks WHERE shop_id = $1 AND stream = 'refunds'`, sh); err != nil {
			t.Fatal(err)
		}
		short := New(Config{ReconcileLookback: time.Hour}, r.e.deps)
		if err := (&refundPullWorker{e: short}).Work(ctx, &river.Job[PullRefundsArgs]{Args: PullRefundsArgs{ShopID: sh}}); err != nil {
			t.Fatal(err)
		}
		watermarkNear(t, r, sh, time.Now().UTC())
		if n, _, _ := r.refunds.state(sh, "OLD"); n != 2 {
			t.Fatalf("%d cases, want 2", n)
		}
	})
}

// Reconciliation re-reads the look-back's refunds, creates the missing
// cases and counts them, advances a case that missed a change without
// counting it, lists a refund it could not apply among its errors, and
// finds nothing to repair the second time.
func TestReconcileRepairsMissingRefunds(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRefundRig(t, db, Config{})
		sh := r.addShop(t, "recref").ID
		now := time.Now().UTC()
		var platform []channel.Refund
		for i, age := range []time.Duration{time.Hour, 2 * time.Hour, 7 * time.Hour, 8 * time.Hour, 19 * time.Hour} {
			o := fakeOrder(fmt.Sprint("O", i+1), now.Add(-age-time.Hour))
			if _, err := r.orders.Ingest(ctx, sh, o); err != nil {
				t.Fatal(err)
			}
			platform = append(platform, fakeRefund(fmt.Sprint("R", i+1), o.PlatformOrderID, now.Add(-age)))
		}
		// R1 and R2 came through their messages; R1 has since succeeded on
		// the platform and that message was lost.
		for _, rf := range platform[:2] {
			older := rf
			older.ModifiedAt = rf.ModifiedAt.Add(-time.Hour)
			if err := r.refunds.Apply(ctx, sh, older); err != nil {
				t.Fatal(err)
			}
		}
		platform[0].Status, platform[0].PlatformStatus = channel.RefundSucceeded, "SUCCESS"
		platform = append(platform, fakeRefund("R6", "NOWHERE", now.Add(-3*time.Hour)))
		r.plat.mu.Lock()
		r.plat.refunds = platform
		r.plat.mu.Unlock()

		rep, err := r.e.Reconcile(ctx, sh)
		if err != nil {
			t.Fatal(err)
		}
		if rep.RefundsSeen != 6 || rep.RefundsRepaired != 3 {
			t.Fatalf("report: seen %d repaired %d, want 6 and 3 (%+v)", rep.RefundsSeen, rep.RefundsRepaired, rep)
		}
		if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "R6") {
			t.Fatalf("errors %q, want R6's", rep.Errors)
		}
		if n, creates, st := r.refunds.state(sh, "R1"); n != 5 || creates != 5 || st != channel.RefundSucceeded {
			t.Fatalf("%d cases, %d created, R1 %q", n, creates, st)
		}

		again, err := r.e.Reconcile(ctx, sh)
		if err != nil || again.RefundsSeen != 6 || again.RefundsRepaired != 0 {
			t.Fatalf("second reconcile: %+v %v", again, err)
		}
		if n, creates, _ := r.refunds.state(sh, "R1"); n != 5 || creates != 5 {
			t.Fatalf("second reconcile made cases: %d, %d created", n, creates)
		}
		runs, err := r.e.ReconcileRuns(ctx, sh, 10)
		if err != nil || len(runs) != 2 || runs[1].RefundsRepaired != 3 || runs[0].RefundsRepaired != 0 {
			t.Fatalf("stored runs: %+v %v", runs, err)
		}
	})
}
