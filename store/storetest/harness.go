// Package storetest holds the conformance suite every storage engine must
// pass (RunSuite) and the harness that gives other packages' tests a fresh,
// migrated database on every engine available (ForEachEngine).
//
// PostgreSQL is found at OMNIHUB_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it cannot be
// reached the PostgreSQL half of a test is skipped with a message — except
// under CI=true, where that is a failure: CI must prove both engines.
package storetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"omnihub/ids"
	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/postgres"
	"omnihub/store/sqlite"
)

// DefaultPostgresURL is used when OMNIHUB_TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the test database URL.
func PostgresURL() string {
	if u := os.Getenv("OMNIHUB_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// InCI reports whether tests run under CI, where nothing may be skipped for
// want of PostgreSQL.
func InCI() bool { return os.Getenv("CI") == "true" }

var (
	pgOnce      sync.Once
	pgReachable error
)

// RequirePostgres skips t (or fails it under CI) when PostgreSQL is unreachable.
func RequirePostgres(t testing.TB) {
	t.Helper()
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		db, err := postgres.Open(ctx, postgres.Options{URL: PostgresURL(), MaxConns: 1})
		if err != nil {
			pgReachable = err
			return
		}
		db.Close()
	})
	if pgReachable != nil {
		if InCI() {
			t.Fatalf("PostgreSQL unreachable at %s under CI=true: %v", PostgresURL(), pgReachable)
		}
		t.Skipf("PostgreSQL unreachable at %s (set OMNIHUB_TEST_POSTGRES_URL): %v", PostgresURL(), pgReachable)
	}
}

// Opener opens a fresh, migrated database for one test; the test's cleanup
// closes and removes it. The job queue is not started.
type Opener func(t testing.TB, cfg jobs.Config) store.DB

// Engine is one engine under test.
type Engine struct {
	Name string
	Open Opener
}

var schemaSeq atomic.Int64

// OpenSQLite opens a migrated SQLite database in t's temporary directory.
func OpenSQLite(t testing.TB, cfg jobs.Config) store.DB {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "omnihub.db")
	db, err := sqlite.Open(ctx, sqlite.Options{Path: path, Jobs: testJobs(cfg)})
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx, store.Up, 0); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// OpenPostgres opens a migrated PostgreSQL database in a schema of its own,
// dropped when the test ends.
func OpenPostgres(t testing.TB, cfg jobs.Config) store.DB {
	t.Helper()
	RequirePostgres(t)
	ctx := context.Background()
	schema := fmt.Sprintf("t_%s_%d", strings.ReplaceAll(ids.New()[:13], "-", ""), schemaSeq.Add(1))
	db, err := postgres.Open(ctx, postgres.Options{URL: PostgresURL(), Schema: schema, Jobs: testJobs(cfg)})
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		_ = db.DropSchema(context.Background())
		db.Close()
	})
	if _, err := db.Migrate(ctx, store.Up, 0); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}

// FreshPostgresURL returns a URL selecting a new schema of its own (OmniHub's
// "schema" parameter) for a test that opens the database itself (a whole
// app, a second process); the schema is dropped when the test ends.
func FreshPostgresURL(t testing.TB) string {
	t.Helper()
	RequirePostgres(t)
	schema := fmt.Sprintf("t_%s_%d", strings.ReplaceAll(ids.New()[:13], "-", ""), schemaSeq.Add(1))
	t.Cleanup(func() {
		ctx := context.Background()
		db, err := postgres.Open(ctx, postgres.Options{URL: PostgresURL(), Schema: schema, MaxConns: 1})
		if err == nil {
			_ = db.DropSchema(ctx)
			db.Close()
		}
	})
	sep := "?"
	if strings.Contains(PostgresURL(), "?") {
		sep = "&"
	}
	return PostgresURL() + sep + "schema=" + schema
}

// testJobs makes job retries fast enough for tests.
func testJobs(cfg jobs.Config) jobs.Config {
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = 20 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 200 * time.Millisecond
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	return cfg
}

// Engines lists the engines to test: SQLite always, PostgreSQL too.
func Engines() []Engine {
	return []Engine{{Name: "sqlite", Open: OpenSQLite}, {Name: "postgres", Open: OpenPostgres}}
}

// ForEachEngine runs fn as a subtest on a fresh database of every engine.
func ForEachEngine(t *testing.T, fn func(t *testing.T, db store.DB)) {
	t.Helper()
	ForEachEngineWithJobs(t, jobs.Config{}, fn)
}

// ForEachEngineWithJobs is ForEachEngine with a job-queue configuration
// (set RunWorkers to process jobs; the test starts the queue itself).
func ForEachEngineWithJobs(t *testing.T, cfg jobs.Config, fn func(t *testing.T, db store.DB)) {
	t.Helper()
	for _, e := range Engines() {
		t.Run(e.Name, func(t *testing.T) {
			fn(t, e.Open(t, cfg))
		})
	}
}
