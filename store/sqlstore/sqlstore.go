// Package sqlstore adapts a database/sql connection to the store interfaces.
// The SQLite engine uses it; an engine only supplies a Codec for the value
// encodings and error classes its driver differs in.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store"
)

// Codec is what an engine's driver needs translated.
type Codec interface {
	// Arg converts an argument before it reaches the driver.
	Arg(v any) any
	// ScanTime converts a driver value read for a time destination.
	ScanTime(src any) (t time.Time, valid bool, err error)
	// Err classifies a driver error (no rows, unique violation).
	Err(err error) error
	// Transient reports whether a transaction failing with err may be retried.
	Transient(err error) bool
}

// Conn is *sql.DB or *sql.Tx.
type Conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Querier implements store.Querier over a Conn.
type Querier struct {
	Conn  Conn
	Codec Codec
	// Stmts, when set, is the cache of prepared statements of the *sql.DB
	// that Conn is (or whose transaction Conn is).
	Stmts *StmtCache
}

// on returns the Conn to run query on.
func (q Querier) on(ctx context.Context, query string) Conn {
	if c, ok := q.stmtFor(ctx, query); ok {
		return c
	}
	return q.Conn
}

func (q Querier) args(args []any) []any {
	for i, a := range args {
		args[i] = q.Codec.Arg(a)
	}
	return args
}

func (q Querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.on(ctx, query).ExecContext(ctx, query, q.args(args)...)
	if err != nil {
		return 0, q.Codec.Err(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, q.Codec.Err(err)
	}
	return n, nil
}

func (q Querier) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	rows, err := q.on(ctx, query).QueryContext(ctx, query, q.args(args)...)
	if err != nil {
		return nil, q.Codec.Err(err)
	}
	return &Rows{rows: rows, codec: q.Codec}, nil
}

func (q Querier) QueryRow(ctx context.Context, query string, args ...any) store.Row {
	return Row{row: q.on(ctx, query).QueryRowContext(ctx, query, q.args(args)...), codec: q.Codec}
}

// Rows wraps *sql.Rows.
type Rows struct {
	rows  *sql.Rows
	codec Codec
}

func (r *Rows) Next() bool { return r.rows.Next() }
func (r *Rows) Err() error { return r.codec.Err(r.rows.Err()) }
func (r *Rows) Close() error {
	return r.rows.Close()
}
func (r *Rows) Scan(dest ...any) error {
	return r.codec.Err(r.rows.Scan(WrapDest(r.codec, dest)...))
}

// Row wraps *sql.Row.
type Row struct {
	row   *sql.Row
	codec Codec
}

func (r Row) Scan(dest ...any) error {
	return r.codec.Err(r.row.Scan(WrapDest(r.codec, dest)...))
}

// WrapDest replaces time destinations with scanners that go through the codec.
func WrapDest(c Codec, dest []any) []any {
	for i, d := range dest {
		switch p := d.(type) {
		case *time.Time:
			dest[i] = timeScanner{c: c, dst: p}
		case **time.Time:
			dest[i] = nullTimeScanner{c: c, dst: p}
		}
	}
	return dest
}

type timeScanner struct {
	c   Codec
	dst *time.Time
}

func (s timeScanner) Scan(src any) error {
	t, ok, err := s.c.ScanTime(src)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("NULL into non-nullable time")
	}
	*s.dst = t
	return nil
}

type nullTimeScanner struct {
	c   Codec
	dst **time.Time
}

func (s nullTimeScanner) Scan(src any) error {
	t, ok, err := s.c.ScanTime(src)
	if err != nil {
		return err
	}
	if !ok {
		*s.dst = nil
		return nil
	}
	*s.dst = &t
	return nil
}

// Tx implements store.Tx over *sql.Tx.
type Tx struct {
	Querier
	tx          *sql.Tx
	engine      store.Engine
	jobs        *jobs.Client[*sql.Tx]
	afterCommit []func()
}

func (t *Tx) Engine() store.Engine  { return t.engine }
func (t *Tx) AfterCommit(fn func()) { t.afterCommit = append(t.afterCommit, fn) }
func (t *Tx) InsertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	return t.jobs.InsertTx(ctx, t.tx, args, opts)
}
func (t *Tx) InsertJobs(ctx context.Context, params []river.InsertManyParams) error {
	return t.jobs.InsertManyTx(ctx, t.tx, params)
}

// MaxAttempts bounds InTx's retries of transient failures.
const MaxAttempts = 5

// InTx runs fn in a transaction on db, retrying transient failures.
// stmts, when not nil, caches db's prepared statements.
func InTx(ctx context.Context, db *sql.DB, stmts *StmtCache, codec Codec, engine store.Engine, jc *jobs.Client[*sql.Tx], fn func(ctx context.Context, tx store.Tx) error, opts *sql.TxOptions) error {
	var err error
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		var after []func()
		after, err = runOnce(ctx, db, stmts, codec, engine, jc, fn, opts)
		if err == nil {
			for _, f := range after {
				f()
			}
			return nil
		}
		if !codec.Transient(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
	return errs.Wrap(err, errs.Unavailable, "transaction kept conflicting")
}

func runOnce(ctx context.Context, db *sql.DB, stmts *StmtCache, codec Codec, engine store.Engine, jc *jobs.Client[*sql.Tx], fn func(ctx context.Context, tx store.Tx) error, opts *sql.TxOptions) (after []func(), err error) {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return nil, errs.Wrap(codec.Err(err), errs.Unavailable, "begin transaction")
	}
	tx := &Tx{Querier: Querier{Conn: sqlTx, Codec: codec, Stmts: stmts}, tx: sqlTx, engine: engine, jobs: jc}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	if err := fn(ctx, tx); err != nil {
		_ = sqlTx.Rollback()
		return nil, err
	}
	if err := sqlTx.Commit(); err != nil {
		return nil, errs.Wrap(codec.Err(err), errs.Unavailable, "commit")
	}
	return tx.afterCommit, nil
}
