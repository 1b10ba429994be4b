package txgroup_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/sqlite"
	"omnihub/store/txgroup"
)

func openDB(t *testing.T) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(ctx, `CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func waitQueued[T any](t *testing.T, g *txgroup.Group[T], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for txgroup.Queued(g) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d calls queued, want %d", txgroup.Queued(g), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Calls queued behind a running transaction share the next one; a failing
// call (error or panic) is rolled back alone, its hooks dropped; the
// group's Finish sees only the calls that succeeded.
func TestSharedTransactionIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	var finished [][]int
	var transactions atomic.Int64
	g := &txgroup.Group[int]{
		InTx: func(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
			transactions.Add(1)
			return db.InTx(ctx, fn)
		},
		Finish: func(ctx context.Context, tx store.Tx, done []int) error {
			finished = append(finished, append([]int(nil), done...))
			return nil
		},
	}
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- g.Do(ctx, func(ctx context.Context, tx store.Tx) (int, error) {
			<-release
			_, err := tx.Exec(ctx, `INSERT INTO things (name) VALUES ('first')`)
			return -1, err
		})
	}()
	waitStarted := time.Now()
	for txgroup.Queued(g) != 0 || transactions.Load() == 0 {
		if time.Since(waitStarted) > 10*time.Second {
			t.Fatal("first call never started")
		}
		time.Sleep(time.Millisecond)
	}

	const n = 30
	var hooks atomic.Int64
	errsOut := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errsOut[i] = g.Do(ctx, func(ctx context.Context, tx store.Tx) (int, error) {
				if _, err := tx.Exec(ctx, `INSERT INTO things (name) VALUES ($1)`, fmt.Sprintf("t%d", i)); err != nil {
					return 0, err
				}
				tx.AfterCommit(func() { hooks.Add(1) })
				switch {
				case i%10 == 3:
					return 0, errs.E(errs.Conflict, "call %d refuses", i)
				case i%10 == 7:
					panic("call panics")
				case i%10 == 9:
					// A constraint violation after a successful write.
					_, err := tx.Exec(ctx, `INSERT INTO things (name) VALUES ('first')`)
					return 0, err
				}
				return i, nil
			})
		}()
	}
	waitQueued(t, g, n)
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatalf("first call: %v", err)
	}

	var okCalls int
	for i, err := range errsOut {
		wantFail := i%10 == 3 || i%10 == 7 || i%10 == 9
		if wantFail != (err != nil) {
			t.Errorf("call %d: err = %v, want failure %v", i, err, wantFail)
		}
		if i%10 == 3 && errs.CodeOf(err) != errs.Conflict {
			t.Errorf("call %d: error code %v, want the call's own conflict", i, errs.CodeOf(err))
		}
		if !wantFail {
			okCalls++
		}
	}
	if got := transactions.Load(); got != 2 {
		t.Errorf("%d transactions, want 2 (the first call, then all %d queued calls together)", got, n)
	}
	var rows int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM things`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != okCalls+1 {
		t.Errorf("%d rows, want %d (first + successful calls; failed calls rolled back)", rows, okCalls+1)
	}
	if hooks.Load() != int64(okCalls) {
		t.Errorf("%d AfterCommit hooks ran, want %d (only successful calls')", hooks.Load(), okCalls)
	}
	if len(finished) != 2 || len(finished[1]) != okCalls {
		t.Errorf("Finish saw %v, want the first call then the %d successful ones", finished, okCalls)
	}
}

// A failing Finish (or commit) fails every call of the transaction, and
// nothing of them is applied.
func TestFailedTransactionFailsEveryCall(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	boom := errors.New("finish fails")
	g := &txgroup.Group[int]{InTx: db.InTx, Finish: func(ctx context.Context, tx store.Tx, done []int) error {
		if len(done) > 1 {
			return boom
		}
		return nil
	}}
	release := make(chan struct{})
	go g.Do(ctx, func(ctx context.Context, tx store.Tx) (int, error) { <-release; return 0, nil })
	time.Sleep(10 * time.Millisecond)
	const n = 5
	var wg sync.WaitGroup
	out := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = g.Do(ctx, func(ctx context.Context, tx store.Tx) (int, error) {
				_, err := tx.Exec(ctx, `INSERT INTO things (name) VALUES ($1)`, fmt.Sprintf("x%d", i))
				return i, err
			})
		}()
	}
	waitQueued(t, g, n)
	close(release)
	wg.Wait()
	for i, err := range out {
		if !errors.Is(err, boom) {
			t.Errorf("call %d: %v, want the transaction's failure", i, err)
		}
	}
	var rows int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM things`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d rows (%v), want 0", rows, err)
	}
}

// A caller that gives up while queued is dropped and its work never runs.
func TestCancelledWhileQueuedNeverRuns(t *testing.T) {
	db := openDB(t)
	g := &txgroup.Group[int]{InTx: db.InTx}
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		g.Do(context.Background(), func(ctx context.Context, tx store.Tx) (int, error) { <-release; return 0, nil })
		close(done)
	}()
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	res := make(chan error, 1)
	go func() {
		res <- g.Do(ctx, func(ctx context.Context, tx store.Tx) (int, error) { ran.Store(true); return 0, nil })
	}()
	waitQueued(t, g, 1)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", err)
	}
	close(release)
	<-done
	if err := g.Do(context.Background(), func(ctx context.Context, tx store.Tx) (int, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("a call cancelled while queued ran anyway")
	}
}
