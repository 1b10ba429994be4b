package order

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

// Concurrent single deliveries are ingested in shared batches: every one is
// answered with its own outcome (created, duplicate, rejected), each order
// exists once, and there are fewer batches than deliveries.
func TestConcurrentIngestShareBatches(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		const n = 60
		var wg sync.WaitGroup
		type answer struct {
			res IngestResult
			err error
		}
		answers := make([]answer, n+2)
		start := make(chan struct{})
		deliver := func(i int, shop string, o channel.Order) {
			defer wg.Done()
			<-start
			r, err := e.svc.Ingest(context.Background(), shop, o)
			answers[i] = answer{r, err}
		}
		for i := range n {
			wg.Add(1)
			shop := "shop-a"
			if i%3 == 0 {
				shop = "shop-b"
			}
			go deliver(i, shop, mk(fmt.Sprintf("C%03d", i), t0))
		}
		// A re-delivery of an order of the round, and an invalid one.
		wg.Add(2)
		go deliver(n, "shop-a", mk("C001", t0))
		bad := mk("C-BAD", t0)
		bad.Lines = nil
		go deliver(n+1, "shop-a", bad)
		close(start)
		wg.Wait()

		for i := range n {
			a := answers[i]
			if a.err != nil || a.res.OrderID == "" || a.res.PlatformOrderID != fmt.Sprintf("C%03d", i) {
				t.Fatalf("delivery %d: %+v %v", i, a.res, a.err)
			}
		}
		if a := answers[n]; a.err != nil || a.res.OrderID != answers[1].res.OrderID {
			t.Fatalf("re-delivery of C001: %+v %v, first %+v", a.res, a.err, answers[1].res)
		}
		if outs := []Outcome{answers[1].res.Outcome, answers[n].res.Outcome}; !(outs[0] == Created && outs[1] == Duplicate) && !(outs[0] == Duplicate && outs[1] == Created) {
			t.Fatalf("C001 delivered twice: outcomes %v, want one created and one duplicate", outs)
		}
		if a := answers[n+1]; a.err == nil || a.res.Outcome != Rejected {
			t.Fatalf("invalid delivery: %+v %v", a.res, a.err)
		}
		var orders int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM orders`).Scan(&orders); err != nil {
			t.Fatal(err)
		}
		if orders != n {
			t.Fatalf("%d orders stored, want %d", orders, n)
		}
		if calls := e.stock.reserveCalls(); calls >= n {
			t.Fatalf("%d reservation calls for %d deliveries: no batch was shared", calls, n)
		} else {
			t.Logf("%d deliveries in %d reservation calls", n+2, calls)
		}
	})
}

// A caller that gives up while its delivery is queued gets its context's
// error, and the delivery is not applied; the others are.
func TestIngestCancelledWhileQueued(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		q := &e.svc.ingestQ
		// Hold the queue, so that deliveries wait in it.
		release, ok := q.Hold(e.svc.ingestRound)
		if !ok {
			t.Fatal("idle ingest queue not held")
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := e.svc.Ingest(ctx, "shop", mk("Q1", t0))
			done <- err
		}()
		for q.Len() != 1 {
		}
		cancel()
		if err := <-done; err != context.Canceled {
			t.Fatalf("cancelled while queued: %v", err)
		}
		if left := q.Len(); left != 0 {
			t.Fatalf("%d deliveries left queued", left)
		}
		release()
		r, err := e.svc.Ingest(context.Background(), "shop", mk("Q2", t0))
		if err != nil || r.Outcome != Created {
			t.Fatalf("next delivery: %+v %v", r, err)
		}
		var n int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM orders WHERE platform_order_id = 'Q1'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatal("the cancelled delivery was applied")
		}
	})
}
