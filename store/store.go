// Package store defines how OmniHub's domain packages talk to a database
// engine, independent of which engine it is.
//
// Two engines implement it: store/sqlite (embedded, the default) and
// store/postgres (production, multi-node). Repositories are written once, in
// the SQL subset both engines understand ($N placeholders, ON CONFLICT,
// RETURNING), against the small interfaces below; the engines absorb the
// differences (value encoding, locking, error classification, retries) and
// both must pass the conformance suite in store/storetest.
//
// A business write and the durable jobs it causes share one transaction:
// Tx.InsertJob enqueues a River job that becomes visible only when the
// transaction commits. That is how OmniHub keeps "nothing leaves the process
// without a durable record".
package store

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"omnihub/errs"
	"omnihub/jobs"
)

// Engine names a storage engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// ErrNoRows is returned by Row.Scan when the query matched nothing.
var ErrNoRows = errors.New("store: no rows")

// ErrUniqueViolation is wrapped by engines around a driver's unique-constraint
// error so that repositories can turn it into a domain conflict.
var ErrUniqueViolation = errors.New("store: unique violation")

// Querier runs SQL. Queries use $1, $2… placeholders on every engine.
//
// Values: integers, strings, bools, []byte, time.Time (stored at microsecond
// precision, UTC) and pointers to them (nil is NULL). Scan targets may be
// pointers to those types or pointers to pointers for nullable columns.
type Querier interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a result set; always Close it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Row is a single-row result; Scan returns ErrNoRows when there was none.
type Row interface {
	Scan(dest ...any) error
}

// Tx is a transaction. It is not safe for concurrent use.
type Tx interface {
	Querier
	// InsertJob enqueues a durable job in this transaction: it runs only if
	// the transaction commits.
	InsertJob(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error
	// InsertJobs enqueues several jobs in one statement (cheaper than one
	// InsertJob each when a transaction queues many).
	InsertJobs(ctx context.Context, params []river.InsertManyParams) error
	// AfterCommit registers fn to run after a successful commit, for
	// in-process wake-ups only (never for external effects: those are jobs).
	AfterCommit(fn func())
	// Engine tells which engine runs the transaction, for the rare query that
	// must differ (row locks, for instance).
	Engine() Engine
}

// DB is an open database with its job queue.
type DB interface {
	// Querier runs statements outside any transaction. On SQLite reads go to
	// a pool of read-only connections; never call DB methods from inside an
	// InTx callback — use the Tx.
	Querier
	Engine() Engine
	// InTx runs fn in a transaction and commits if fn returns nil. Engines
	// retry fn on transient conflicts (serialization failures, deadlocks), so
	// fn must not have side effects outside the transaction.
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Jobs is the durable job queue living in this database.
	Jobs() jobs.Queue
	// Migrate applies or rolls back schema migrations (OmniHub's and River's).
	Migrate(ctx context.Context, dir Direction, steps int) ([]MigrationStatus, error)
	MigrationStatus(ctx context.Context) ([]MigrationStatus, error)
	Ping(ctx context.Context) error
	Close() error
}

// Direction of a migration run.
type Direction string

const (
	Up   Direction = "up"
	Down Direction = "down"
)

// MigrationStatus describes one migration and whether it is applied.
type MigrationStatus struct {
	Version   int
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// IsUniqueViolation reports whether err came from a unique constraint.
func IsUniqueViolation(err error) bool { return errors.Is(err, ErrUniqueViolation) }

// NotFoundIfNoRows turns ErrNoRows into a typed not-found error with the
// given message and wraps anything else as internal.
func NotFoundIfNoRows(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNoRows) {
		return errs.E(errs.NotFound, format, args...)
	}
	return errs.Wrap(err, errs.Internal, format, args...)
}

// UTC normalises a time to what engines store: UTC, microsecond precision.
func UTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
