package sync

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/storetest"
)

// While its shop is paused, a queued job calls nothing and snoozes — many
// more times than the queue's attempts (jobCfg: 4) without spending one or
// becoming a dead letter — and a stored message's job parks; a direct
// reconciliation answers a conflict. Resumed (with ResumeTx, as the shop
// service's resume hook does in the app), the pull, the token refresh and
// the reconciliation run and the parked message is processed.
func TestPausedShopJobsWaitWithoutSpendingAttempts(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		const recheck = 30 * time.Millisecond
		r := newRig(t, db, Config{PausedRecheck: recheck})
		sh := r.addShop(t, "paused")
		now := time.Now().UTC()
		r.plat.mu.Lock()
		r.plat.orders = []channel.Order{
			{PlatformOrderID: "P1", ModifiedAt: now.Add(-time.Minute), Status: channel.OrderPaid},
			{PlatformOrderID: "M1", ModifiedAt: now, Status: channel.OrderPaid},
		}
		r.plat.mu.Unlock()
		if err := r.shops.SetStatus(ctx, sh.ID, shop.Paused); err != nil {
			t.Fatal(err)
		}

		_, err := r.e.Reconcile(ctx, sh.ID)
		var snooze *river.JobSnoozeError
		if !errs.Is(err, errs.Conflict) || !errors.As(err, &snooze) || snooze.Duration != recheck {
			t.Fatalf("reconciling a paused shop: %v (code %s), want a conflict that snoozes %s", err, errs.CodeOf(err), recheck)
		}

		var held []int64
		for _, args := range []river.JobArgs{PullOrdersArgs{ShopID: sh.ID}, RefreshTokenArgs{ShopID: sh.ID}, ReconcileArgs{ShopID: sh.ID}} {
			id, err := db.Jobs().Insert(ctx, args, nil)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, id)
		}
		msg := channel.Message{ID: "msg-1", Kind: channel.MsgOrderPaid, PlatformShopID: sh.PlatformShopID, PlatformOrderID: "M1"}
		if _, err := r.e.storeMessages(ctx, sh.Platform, sh.ID, []channel.Message{msg}); err != nil {
			t.Fatal(err)
		}
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		job := func(id int64) (*rivertype.JobRow, int) {
			t.Helper()
			j, err := db.Jobs().Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var md struct {
				Snoozes int `json:"snoozes"`
			}
			_ = json.Unmarshal(j.Metadata, &md)
			return j, md.Snoozes
		}
		eventually(t, "every held job to snooze more often than it may be attempted", 30*time.Second, func() bool {
			for _, id := range held {
				if _, n := job(id); n <= jobCfg().MaxAttempts+2 {
					return false
				}
			}
			return true
		})
		eventually(t, "the message's job to park", 10*time.Second, func() bool {
			return count(`SELECT COUNT(*) FROM river_job WHERE kind = 'sync_process_message' AND state = 'completed'`) == 1
		})

		r.plat.mu.Lock()
		refreshes := r.plat.refreshes
		r.plat.mu.Unlock()
		if n := r.orders.count(); n != 0 || refreshes != 0 {
			t.Fatalf("paused shop: %d orders ingested, %d token refreshes", n, refreshes)
		}
		if n := count(`SELECT COUNT(*) FROM sync_inbox WHERE shop_id = $1 AND processed_at IS NULL`, sh.ID); n != 1 {
			t.Fatalf("%d unprocessed messages while paused, want the one stored", n)
		}
		for _, id := range held {
			if j, _ := job(id); j.Attempt > 1 || len(j.Errors) > 0 || j.State == rivertype.JobStateDiscarded || j.State == rivertype.JobStateRetryable {
				t.Fatalf("%s while paused: %s, attempt %d, errors %v", j.Kind, j.State, j.Attempt, j.Errors)
			}
		}
		if runs, err := r.e.ReconcileRuns(ctx, sh.ID, 10); err != nil || len(runs) != 0 {
			t.Fatalf("%d reconciliations of a paused shop (%v)", len(runs), err)
		}

		if err := r.shops.SetStatus(ctx, sh.ID, shop.Active); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return ResumeTx(ctx, tx, sh.ID) }); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the held jobs to complete", 10*time.Second, func() bool {
			for _, id := range held {
				if j, _ := job(id); j.State != rivertype.JobStateCompleted {
					return false
				}
			}
			return true
		})
		eventually(t, "the parked message to be processed", 10*time.Second, func() bool {
			return count(`SELECT COUNT(*) FROM sync_inbox WHERE shop_id = $1 AND processed_at IS NULL`, sh.ID) == 0
		})
		r.plat.mu.Lock()
		refreshes = r.plat.refreshes
		r.plat.mu.Unlock()
		if n := r.orders.count(); n != 2 || refreshes == 0 {
			t.Fatalf("resumed shop: %d orders ingested (want 2), %d token refreshes", n, refreshes)
		}
		if runs, err := r.e.ReconcileRuns(ctx, sh.ID, 10); err != nil || len(runs) == 0 {
			t.Fatalf("no reconciliation after the resume (%v)", err)
		}
		if n := count(`SELECT COUNT(*) FROM river_job WHERE state = 'discarded'`); n != 0 {
			t.Fatalf("%d dead letters", n)
		}
	})
}
