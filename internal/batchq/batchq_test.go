package batchq

import (
	"context"
	"errors"
	"sync"
	"testing"
)

type item struct {
	n      int
	result int
}

// Items queued while a batch runs go into the next one together, each gets
// its own outcome, and batches keep the arrival order.
func TestItemsQueuedDuringABatchShareTheNext(t *testing.T) {
	var q Queue[*item]
	var mu sync.Mutex
	var batches [][]int
	run := func(b []*item) {
		mu.Lock()
		defer mu.Unlock()
		var ns []int
		for _, it := range b {
			it.result = it.n * 10
			ns = append(ns, it.n)
		}
		batches = append(batches, ns)
	}
	release, ok := q.Hold(run)
	if !ok {
		t.Fatal("idle queue not held")
	}
	const n = 20
	items := make([]*item, n)
	var wg sync.WaitGroup
	for i := range n {
		items[i] = &item{n: i}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := q.Do(context.Background(), items[i], run); err != nil {
				t.Error(err)
			}
		}()
		for q.Len() != i+1 {
		}
	}
	release()
	wg.Wait()
	if len(batches) != 1 || len(batches[0]) != n {
		t.Fatalf("batches %v, want one of %d", batches, n)
	}
	for i, it := range items {
		if it.result != i*10 || batches[0][i] != i {
			t.Fatalf("item %d: result %d, batch order %v", i, it.result, batches[0])
		}
	}
}

// An item whose caller gives up while it is queued is never run; the
// caller gets its context's error.
func TestCancelledWhileQueuedNeverRuns(t *testing.T) {
	var q Queue[*item]
	ran := map[int]bool{}
	run := func(b []*item) {
		for _, it := range b {
			ran[it.n] = true
		}
	}
	release, _ := q.Hold(run)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- q.Do(ctx, &item{n: 1}, run) }()
	for q.Len() != 1 {
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: %v", err)
	}
	if q.Len() != 0 {
		t.Fatal("cancelled item left queued")
	}
	release()
	if err := q.Do(context.Background(), &item{n: 2}, run); err != nil {
		t.Fatal(err)
	}
	if ran[1] || !ran[2] {
		t.Fatalf("ran %v, want only 2", ran)
	}
	if _, ok := q.Hold(run); !ok {
		t.Fatal("queue still busy after its last batch")
	}
}

// Max bounds a batch.
func TestMaxBoundsABatch(t *testing.T) {
	q := Queue[*item]{Max: 3}
	var sizes []int
	run := func(b []*item) { sizes = append(sizes, len(b)) }
	release, _ := q.Hold(run)
	var wg sync.WaitGroup
	for i := range 7 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = q.Do(context.Background(), &item{n: i}, run) }()
		for q.Len() != i+1 {
		}
	}
	release()
	wg.Wait()
	if len(sizes) != 3 || sizes[0] != 3 || sizes[1] != 3 || sizes[2] != 1 {
		t.Fatalf("batch sizes %v, want [3 3 1]", sizes)
	}
}
