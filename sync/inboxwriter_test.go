package sync

import (
	"context"
	"fmt"
	stdsync "sync"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

// Concurrent webhook calls share inbox commits; whatever the batching, every
// distinct message is stored once with one processing job, duplicates inside
// and across calls count once, and every caller learns its own fresh count.
func TestInboxGroupCommitConcurrent(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{BurstThreshold: -1})
		sh := r.addShop(t, "burst-inbox")
		const callers, perCaller, distinct = 40, 5, 60
		r.plat.mu.Lock()
		for i := range distinct {
			r.plat.orders = append(r.plat.orders, channel.Order{PlatformOrderID: fmt.Sprintf("G%d", i), ModifiedAt: time.Now(), Status: channel.OrderPaid})
		}
		r.plat.mu.Unlock()
		var (
			wg    stdsync.WaitGroup
			mu    stdsync.Mutex
			fresh int
			errs  []error
		)
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				msgs := make([]channel.Message, perCaller)
				for k := range msgs {
					// Callers overlap: message ids repeat across calls.
					n := (c*3 + k) % distinct
					msgs[k] = channel.Message{ID: fmt.Sprintf("gm-%d", n), Kind: channel.MsgOrderPaid,
						PlatformShopID: sh.PlatformShopID, PlatformOrderID: fmt.Sprintf("G%d", n)}
				}
				got, err := r.e.storeMessages(ctx, sh.Platform, sh.ID, msgs)
				mu.Lock()
				defer mu.Unlock()
				fresh += got
				if err != nil {
					errs = append(errs, err)
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d callers failed, first: %v", len(errs), errs[0])
		}
		want := min(distinct, (callers-1)*3+perCaller)
		if fresh != want {
			t.Fatalf("callers counted %d fresh messages, want %d", fresh, want)
		}
		var rows, jobsQueued int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sync_inbox WHERE shop_id = $1`, sh.ID).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != want {
			t.Fatalf("inbox holds %d rows, want %d", rows, want)
		}
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = $1`, ProcessArgs{}.Kind()).Scan(&jobsQueued); err != nil {
			t.Fatal(err)
		}
		if jobsQueued != want {
			t.Fatalf("%d processing jobs queued, want %d (one per stored message)", jobsQueued, want)
		}
		eventually(t, "every message processed", 20*time.Second, func() bool {
			var backlog int
			_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM sync_inbox WHERE processed_at IS NULL`).Scan(&backlog)
			return backlog == 0
		})
		if got := r.orders.count(); got != want {
			t.Fatalf("%d orders ingested, want %d", got, want)
		}
	})
}
