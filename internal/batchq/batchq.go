// Package batchq lets concurrent callers share batches of work (the
// leader/follower pattern of group commit).
//
// The first caller to find a Queue idle leads: it runs, one batch at a
// time, every item queued by then; callers arriving meanwhile queue for the
// following batch. There is no timer: a lone item runs at once, alone, and
// batches grow only as far as the load makes callers wait anyway. When the
// leader's own item is done it hands the lead to a goroutine if items are
// still queued, so that one caller does not serve a busy queue for ever.
//
// A caller whose context ends while its item is still queued takes it off
// the queue: the item is never run. Once its batch has started, the caller
// waits for it.
package batchq

import (
	"context"
	"sync"
)

// Queue batches the items of concurrent Do calls. The zero value is ready;
// a Queue must not be copied after first use.
type Queue[T any] struct {
	// Max bounds a batch (default 256).
	Max int

	mu    sync.Mutex
	queue []*entry[T]
	busy  bool
}

type entry[T any] struct {
	item    T
	started bool // taken off the queue by a leader (under Queue.mu)
	done    chan struct{}
}

// Do queues item and returns nil once run has handled the batch it went
// into, or ctx's error if ctx ended while item was still queued (item is
// then never run). run gets batches in arrival order, one at a time; it
// must handle every item of its batch (items carry their own outcome) and
// must not panic. Every caller of a Queue passes the same run.
func (q *Queue[T]) Do(ctx context.Context, item T, run func(batch []T)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := &entry[T]{item: item, done: make(chan struct{})}
	q.mu.Lock()
	q.queue = append(q.queue, e)
	lead := !q.busy
	q.busy = true
	q.mu.Unlock()
	if lead {
		q.lead(e, run)
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	if !e.started {
		for i, x := range q.queue {
			if x == e {
				q.queue = append(q.queue[:i:i], q.queue[i+1:]...)
				break
			}
		}
		q.mu.Unlock()
		return ctx.Err()
	}
	q.mu.Unlock()
	<-e.done // running: its outcome is the caller's
	return nil
}

// Len reports how many items wait for a batch.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

// Hold, called while no batch runs, keeps the queue from starting one
// until release is called: items queue meanwhile, and release runs them
// (with run). Tests use it to make items wait. ok is false, and nothing is
// held, if a batch is running.
func (q *Queue[T]) Hold(run func(batch []T)) (release func(), ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.busy {
		return nil, false
	}
	q.busy = true
	return func() { q.lead(nil, run) }, true
}

// lead runs queued batches until own is done (own nil: until the queue is
// empty), then hands the lead to a goroutine if items are still queued.
func (q *Queue[T]) lead(own *entry[T], run func([]T)) {
	limit := q.Max
	if limit <= 0 {
		limit = 256
	}
	for {
		q.mu.Lock()
		n := min(len(q.queue), limit)
		if n == 0 {
			q.busy = false
			q.mu.Unlock()
			return
		}
		batch := append([]*entry[T](nil), q.queue[:n]...)
		q.queue = append(q.queue[:0:0], q.queue[n:]...)
		for _, e := range batch {
			e.started = true
		}
		q.mu.Unlock()
		items := make([]T, len(batch))
		for i, e := range batch {
			items[i] = e.item
		}
		run(items)
		for _, e := range batch {
			close(e.done)
		}
		if own != nil && isClosed(own.done) {
			q.mu.Lock()
			more := len(q.queue) > 0
			if !more {
				q.busy = false
			}
			q.mu.Unlock()
			if more {
				go q.lead(nil, run)
			}
			return
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
