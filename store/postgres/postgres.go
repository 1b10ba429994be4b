// Package postgres is OmniHub's production storage engine: PostgreSQL through
// pgx v5, with River's pgx driver for the job queue. Several OmniHub
// processes may share one database; River elects a leader for periodic jobs
// and locks jobs so that none runs twice.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configure Open.
type Options struct {
	// URL is a PostgreSQL connection URL (postgres://user@host:5432/db).
	URL string
	// Schema, when set, is created if missing and used as the search path
	// (tests give each run its own schema).
	Schema string
	// MaxConns bounds the pool (default 16).
	MaxConns int32
	Jobs     jobs.Config
	// AnalyzeEvery is how often tables that grew fast are analyzed (see
	// analyzer; default 2 s, negative: never, leaving it to autovacuum).
	AnalyzeEvery time.Duration
}

// DB is an open PostgreSQL database.
type DB struct {
	pool   *pgxpool.Pool
	schema string
	jobs   *jobs.Client[pgx.Tx]
	migs   []store.Migration
	stats  *analyzer // nil when off
}

var _ store.DB = (*DB)(nil)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects to PostgreSQL. It does not migrate; call Migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "postgres: bad database URL")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	} else {
		cfg.MaxConns = 16
	}
	if opts.Schema != "" {
		if !schemaName.MatchString(opts.Schema) {
			return nil, errs.E(errs.Invalid, "postgres: bad schema name %q", opts.Schema)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
		if err != nil {
			return nil, errs.Wrap(err, errs.Unavailable, "postgres: connect")
		}
		_, err = conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+opts.Schema)
		conn.Close(ctx)
		if err != nil {
			return nil, errs.Wrap(err, errs.Unavailable, "postgres: create schema %s", opts.Schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "postgres: connect")
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, errs.Wrap(err, errs.Unavailable, "postgres: connect")
	}
	migs, err := store.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		pool.Close()
		return nil, err
	}
	db := &DB{pool: pool, schema: opts.Schema, migs: migs}
	workers := jobs.NewWorkers()
	rcfg := jobs.RiverConfig(opts.Jobs, workers)
	rcfg.Schema = opts.Schema
	rc, err := river.NewClient(riverpgxv5.New(pool), rcfg)
	if err != nil {
		pool.Close()
		return nil, errs.Wrap(err, errs.Internal, "postgres: create job queue")
	}
	db.jobs = jobs.NewClient(rc, workers)
	if opts.AnalyzeEvery >= 0 {
		every := opts.AnalyzeEvery
		if every == 0 {
			every = analyzeEvery
		}
		db.stats = startAnalyzer(pool, every)
	}
	return db, nil
}

func (db *DB) Engine() store.Engine { return store.Postgres }
func (db *DB) Jobs() jobs.Queue     { return db.jobs }

// Pool exposes the connection pool for engine-specific tooling (benchmarks).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

func (db *DB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return querier{db.pool}.Exec(ctx, query, args...)
}

func (db *DB) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	return querier{db.pool}.Query(ctx, query, args...)
}

func (db *DB) QueryRow(ctx context.Context, query string, args ...any) store.Row {
	return querier{db.pool}.QueryRow(ctx, query, args...)
}

// maxTxAttempts bounds retries of serialization failures and deadlocks.
const maxTxAttempts = 8

func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		var after []func()
		after, err = db.runOnce(ctx, fn)
		if err == nil {
			for _, f := range after {
				f()
			}
			return nil
		}
		if !transient(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt*attempt) * time.Millisecond)
	}
	return errs.Wrap(err, errs.Unavailable, "postgres: transaction kept conflicting")
}

func (db *DB) runOnce(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) ([]func(), error) {
	ptx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "postgres: begin")
	}
	tx := &txn{querier: querier{ptx}, tx: ptx, jobs: db.jobs}
	defer func() {
		if p := recover(); p != nil {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	if err := fn(ctx, tx); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := ptx.Commit(ctx); err != nil {
		return nil, errs.Wrap(classify(err), errs.Unavailable, "postgres: commit")
	}
	return tx.after, nil
}

func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return errs.Wrap(err, errs.Unavailable, "postgres: ping")
	}
	return nil
}

func (db *DB) Close() error {
	if db.stats != nil {
		db.stats.stop()
	}
	db.pool.Close()
	return nil
}

// SplitSchema takes OmniHub's own "schema" query parameter off a
// PostgreSQL URL (postgres://…/db?schema=tenant1): it selects the schema
// OmniHub's tables live in, which pgx would otherwise send to the server as
// an unknown runtime parameter.
func SplitSchema(rawURL string) (string, string) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL, ""
	}
	q := u.Query()
	schema := q.Get("schema")
	if schema == "" {
		return rawURL, ""
	}
	q.Del("schema")
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// DropSchema removes the schema given in Options (tests clean up with it).
func (db *DB) DropSchema(ctx context.Context) error {
	if db.schema == "" {
		return nil
	}
	_, err := db.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+db.schema+" CASCADE")
	return err
}

// migrationLock serialises migrations of processes sharing the database.
const migrationLock = 7_146_011_001

func (db *DB) withMigrationLock(ctx context.Context, fn func() error) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "postgres: acquire connection")
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
		return errs.Wrap(err, errs.Unavailable, "postgres: migration lock")
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
	return fn()
}

func (db *DB) migrator() store.Migrator {
	return store.Migrator{DB: db, Migrations: db.migs, ExecScript: func(ctx context.Context, tx store.Tx, script string) error {
		_, err := tx.(*txn).tx.Exec(ctx, script) // no arguments: simple protocol, several statements allowed
		return classify(err)
	}}
}

func (db *DB) Migrate(ctx context.Context, dir store.Direction, steps int) (ran []store.MigrationStatus, err error) {
	err = db.withMigrationLock(ctx, func() error {
		if dir == store.Up {
			m, err := rivermigrate.New(riverpgxv5.New(db.pool), &rivermigrate.Config{Schema: db.schema})
			if err != nil {
				return fmt.Errorf("postgres: job queue migrations: %w", err)
			}
			if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
				return fmt.Errorf("postgres: job queue migrations: %w", err)
			}
		}
		ran, err = db.migrator().Run(ctx, dir, steps)
		return err
	})
	return ran, err
}

func (db *DB) MigrationStatus(ctx context.Context) ([]store.MigrationStatus, error) {
	return db.migrator().Status(ctx)
}

// pgxConn is what pgxpool.Pool and pgx.Tx share.
type pgxConn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type querier struct{ c pgxConn }

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, query, args...)
	if err != nil {
		return 0, classify(err)
	}
	return tag.RowsAffected(), nil
}

func (q querier) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	rows, err := q.c.Query(ctx, query, args...)
	if err != nil {
		return nil, classify(err)
	}
	return pgRows{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) store.Row {
	return pgRow{q.c.QueryRow(ctx, query, args...)}
}

type pgRows struct{ r pgx.Rows }

func (r pgRows) Next() bool { return r.r.Next() }
func (r pgRows) Scan(dest ...any) error {
	return classify(r.r.Scan(utcDest(dest)...))
}
func (r pgRows) Err() error   { return classify(r.r.Err()) }
func (r pgRows) Close() error { r.r.Close(); return nil }

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error { return classify(r.r.Scan(utcDest(dest)...)) }

// utcDest makes scanned times UTC, as on every engine.
func utcDest(dest []any) []any {
	for i, d := range dest {
		switch p := d.(type) {
		case *time.Time:
			dest[i] = utcTime{p}
		case **time.Time:
			dest[i] = utcNullTime{p}
		}
	}
	return dest
}

type utcTime struct{ dst *time.Time }

func (u utcTime) Scan(src any) error {
	t, ok := src.(time.Time)
	if !ok {
		return fmt.Errorf("cannot scan %T into time", src)
	}
	*u.dst = t.UTC()
	return nil
}

type utcNullTime struct{ dst **time.Time }

func (u utcNullTime) Scan(src any) error {
	if src == nil {
		*u.dst = nil
		return nil
	}
	t, ok := src.(time.Time)
	if !ok {
		return fmt.Errorf("cannot scan %T into time", src)
	}
	t = t.UTC()
	*u.dst = &t
	return nil
}

type txn struct {
	querier
	tx    pgx.Tx
	jobs  *jobs.Client[pgx.Tx]
	after []func()
}

func (t *txn) Engine() store.Engine  { return store.Postgres }
func (t *txn) AfterCommit(fn func()) { t.after = append(t.after, fn) }
func (t *txn) InsertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	return t.jobs.InsertTx(ctx, t.tx, args, opts)
}
func (t *txn) InsertJobs(ctx context.Context, params []river.InsertManyParams) error {
	return t.jobs.InsertManyTx(ctx, t.tx, params)
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNoRows
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %v", store.ErrUniqueViolation, err)
	}
	return err
}

func transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}
