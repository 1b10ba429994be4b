package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store"
)

// RunSuite is the conformance suite: every engine must pass it unchanged.
func RunSuite(t *testing.T, open Opener) {
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, open(t, jobs.Config{})) })
	t.Run("TxCommitRollback", func(t *testing.T) { testTx(t, open(t, jobs.Config{})) })
	t.Run("Values", func(t *testing.T) { testValues(t, open(t, jobs.Config{})) })
	t.Run("ConcurrentTx", func(t *testing.T) { testConcurrentTx(t, open(t, jobs.Config{})) })
	t.Run("JobsFollowTransactions", func(t *testing.T) { testJobsFollowTx(t, open) })
	t.Run("DeadLetters", func(t *testing.T) { testDeadLetters(t, open) })
}

func scratch(t *testing.T, db store.DB) {
	t.Helper()
	ts := "TIMESTAMP"
	if db.Engine() == store.Postgres {
		ts = "TIMESTAMPTZ"
	}
	_, err := db.Exec(context.Background(), `CREATE TABLE storetest_items (
		id TEXT PRIMARY KEY, n BIGINT NOT NULL, flag BOOLEAN NOT NULL DEFAULT FALSE,
		at `+ts+`, body TEXT)`)
	if err != nil {
		t.Fatalf("create scratch table: %v", err)
	}
}

func testMigrations(t *testing.T, db store.DB) {
	ctx := context.Background()
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 {
		t.Fatal("no migrations known")
	}
	for _, s := range st {
		if !s.Applied {
			t.Fatalf("migration %d_%s not applied after Migrate(up)", s.Version, s.Name)
		}
	}
	last := st[len(st)-1]
	ran, err := db.Migrate(ctx, store.Down, 1)
	if err != nil {
		t.Fatalf("down: %v", err)
	}
	if len(ran) != 1 || ran[0].Version != last.Version {
		t.Fatalf("down ran %+v, want only %d", ran, last.Version)
	}
	st, _ = db.MigrationStatus(ctx)
	if st[len(st)-1].Applied {
		t.Fatal("latest migration still applied after down")
	}
	ran, err = db.Migrate(ctx, store.Up, 0)
	if err != nil || len(ran) != 1 {
		t.Fatalf("up again: ran %v, err %v", ran, err)
	}
	// Idempotent: nothing left to do.
	if ran, err := db.Migrate(ctx, store.Up, 0); err != nil || len(ran) != 0 {
		t.Fatalf("second up: ran %v, err %v", ran, err)
	}
}

func count(t *testing.T, db store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM storetest_items`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testTx(t *testing.T, db store.DB) {
	ctx := context.Background()
	scratch(t, db)
	boom := errors.New("boom")
	err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO storetest_items (id, n) VALUES ($1, $2)`, "a", 1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the callback's error", err)
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("rolled-back insert is visible: %d rows", n)
	}
	committed := false
	err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		tx.AfterCommit(func() { committed = true })
		_, err := tx.Exec(ctx, `INSERT INTO storetest_items (id, n) VALUES ($1, $2)`, "a", 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !committed {
		t.Fatal("AfterCommit hook did not run")
	}
	if n := count(t, db); n != 1 {
		t.Fatalf("committed insert not visible: %d rows", n)
	}
	err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO storetest_items (id, n) VALUES ($1, $2)`, "a", 2)
		return err
	})
	if !store.IsUniqueViolation(err) {
		t.Fatalf("duplicate key gave %v, want a unique violation", err)
	}
	var n int
	err = db.QueryRow(ctx, `SELECT n FROM storetest_items WHERE id = $1`, "missing").Scan(&n)
	if !errors.Is(err, store.ErrNoRows) {
		t.Fatalf("missing row gave %v, want ErrNoRows", err)
	}
	if e := store.NotFoundIfNoRows(err, "item %s", "missing"); !errs.Is(e, errs.NotFound) {
		t.Fatalf("NotFoundIfNoRows gave %v", e)
	}
}

func testValues(t *testing.T, db store.DB) {
	ctx := context.Background()
	scratch(t, db)
	at := time.Date(2026, 11, 11, 0, 0, 1, 123456789, time.FixedZone("CST", 8*3600))
	later := at.Add(1500 * time.Millisecond)
	if _, err := db.Exec(ctx, `INSERT INTO storetest_items (id, n, flag, at, body) VALUES ($1, $2, $3, $4, $5), ($6, $7, $8, $9, $10)`,
		"x", int64(1)<<53, true, at, "订单 ✓", "y", -7, false, later, nil); err != nil {
		t.Fatal(err)
	}
	var (
		n    int64
		flag bool
		got  time.Time
		body *string
	)
	if err := db.QueryRow(ctx, `SELECT n, flag, at, body FROM storetest_items WHERE id = $1`, "x").Scan(&n, &flag, &got, &body); err != nil {
		t.Fatal(err)
	}
	if n != 1<<53 || !flag || body == nil || *body != "订单 ✓" {
		t.Fatalf("round trip: n=%d flag=%v body=%v", n, flag, body)
	}
	if want := store.UTC(at); !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("time round trip: got %v, want %v in UTC", got, want)
	}
	var nullAt *time.Time = &got
	if _, err := db.Exec(ctx, `UPDATE storetest_items SET at = NULL WHERE id = $1`, "y"); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT at, body FROM storetest_items WHERE id = $1`, "y").Scan(&nullAt, &body); err != nil {
		t.Fatal(err)
	}
	if nullAt != nil || body != nil {
		t.Fatalf("NULLs did not scan as nil: %v %v", nullAt, body)
	}
	// Times compare in SQL in time order, whatever the engine stores.
	if _, err := db.Exec(ctx, `INSERT INTO storetest_items (id, n, at) VALUES ($1, 0, $2)`, "z", at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	rows, err := db.Query(ctx, `SELECT id FROM storetest_items WHERE at > $1 ORDER BY at`, at.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if fmt.Sprint(ids) != "[x]" {
		t.Fatalf("time comparison returned %v, want [x]", ids)
	}
	var maxAt time.Time
	if err := db.QueryRow(ctx, `SELECT max(at) FROM storetest_items`).Scan(&maxAt); err != nil {
		t.Fatalf("aggregate time: %v", err)
	}
	if !maxAt.Equal(store.UTC(at)) {
		t.Fatalf("max(at) = %v", maxAt)
	}
}

func testConcurrentTx(t *testing.T, db store.DB) {
	ctx := context.Background()
	scratch(t, db)
	if _, err := db.Exec(ctx, `INSERT INTO storetest_items (id, n) VALUES ('counter', 0)`); err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 16, 25
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					var n int64
					q := `SELECT n FROM storetest_items WHERE id = 'counter'`
					if tx.Engine() == store.Postgres {
						q += ` FOR UPDATE`
					}
					if err := tx.QueryRow(ctx, q).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `UPDATE storetest_items SET n = $1 WHERE id = 'counter'`, n+1)
					return err
				})
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT n FROM storetest_items WHERE id = 'counter'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != goroutines*each {
		t.Fatalf("lost updates: counter = %d, want %d", n, goroutines*each)
	}
}

// flakyArgs is a test job that fails its first FailTimes attempts.
type flakyArgs struct {
	Key       string `json:"key"`
	FailTimes int    `json:"fail_times"`
}

func (flakyArgs) Kind() string { return "storetest_flaky" }

type flakyWorker struct {
	river.WorkerDefaults[flakyArgs]
	mu       sync.Mutex
	attempts map[string]int
	done     chan string
}

func (w *flakyWorker) Work(ctx context.Context, job *river.Job[flakyArgs]) error {
	w.mu.Lock()
	w.attempts[job.Args.Key]++
	n := w.attempts[job.Args.Key]
	w.mu.Unlock()
	if n <= job.Args.FailTimes {
		return fmt.Errorf("attempt %d of %s fails on purpose", n, job.Args.Key)
	}
	w.done <- job.Args.Key
	return nil
}

func (w *flakyWorker) count(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.attempts[key]
}

func startWorker(t *testing.T, open Opener, maxAttempts int) (store.DB, *flakyWorker) {
	t.Helper()
	db := open(t, jobs.Config{RunWorkers: true, MaxAttempts: maxAttempts, MaxWorkers: 4})
	w := &flakyWorker{attempts: map[string]int{}, done: make(chan string, 16)}
	river.AddWorker(db.Jobs().Workers(), w)
	ctx := context.Background()
	if err := db.Jobs().Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Jobs().Stop(stopCtx)
	})
	return db, w
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testJobsFollowTx(t *testing.T, open Opener) {
	db, w := startWorker(t, open, 3)
	ctx := context.Background()
	_ = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertJob(ctx, flakyArgs{Key: "rolled-back"}, nil); err != nil {
			t.Fatal(err)
		}
		return errors.New("abort")
	})
	if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.InsertJob(ctx, flakyArgs{Key: "committed"}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case key := <-w.done:
		if key != "committed" {
			t.Fatalf("ran job %q", key)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("committed job did not run")
	}
	// Give the rolled-back job every chance to appear: it must not.
	time.Sleep(500 * time.Millisecond)
	if n := w.count("rolled-back"); n != 0 {
		t.Fatalf("job from a rolled-back transaction ran %d times", n)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args LIKE '%rolled-back%'`).Scan(&n); err == nil && n != 0 {
		t.Fatalf("rolled-back job is stored (%d rows)", n)
	}
}

func testDeadLetters(t *testing.T, open Opener) {
	db, w := startWorker(t, open, 3)
	ctx := context.Background()
	id, err := db.Jobs().Insert(ctx, flakyArgs{Key: "poison", FailTimes: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dead []jobs.DeadLetter
	waitFor(t, "the job to be dead-lettered", 30*time.Second, func() bool {
		dead, err = db.Jobs().DeadLetters(ctx, 0, 10)
		return err == nil && len(dead) == 1
	})
	if got := w.count("poison"); got != 3 {
		t.Fatalf("job was tried %d times, want 3 (max attempts)", got)
	}
	d := dead[0]
	if d.ID != id || d.Kind != "storetest_flaky" || d.Attempts != 3 || d.LastError == "" {
		t.Fatalf("dead letter = %+v", d)
	}
	// A person retries it; it now succeeds (4th attempt).
	if err := db.Jobs().Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(15 * time.Second):
		t.Fatal("retried dead letter did not run")
	}
	waitFor(t, "dead letters to empty", 10*time.Second, func() bool {
		dead, err = db.Jobs().DeadLetters(ctx, 0, 10)
		return err == nil && len(dead) == 0
	})
	// Skip: another poison job is dead-lettered, then skipped.
	id2, err := db.Jobs().Insert(ctx, flakyArgs{Key: "poison2", FailTimes: 99}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second dead letter", 30*time.Second, func() bool {
		dead, err = db.Jobs().DeadLetters(ctx, 0, 10)
		return err == nil && len(dead) == 1
	})
	if err := db.Jobs().Skip(ctx, id); !errs.Is(err, errs.NotFound) && !errs.Is(err, errs.Conflict) {
		t.Fatalf("skipping a completed job gave %v, want conflict", err)
	}
	// Retrying is for dead letters only: a completed job must not run twice.
	if err := db.Jobs().Retry(ctx, id); !errs.Is(err, errs.Conflict) {
		t.Fatalf("retrying a completed job gave %v, want conflict", err)
	}
	if j, err := db.Jobs().Get(ctx, id); err != nil || j.State != rivertype.JobStateCompleted {
		t.Fatalf("completed job after a refused retry: %v %v", j, err)
	}
	if err := db.Jobs().Skip(ctx, id2); err != nil {
		t.Fatal(err)
	}
	dead, _ = db.Jobs().DeadLetters(ctx, 0, 10)
	if len(dead) != 0 {
		t.Fatalf("skipped dead letter still listed: %+v", dead)
	}
}
