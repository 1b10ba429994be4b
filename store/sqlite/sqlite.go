// Package sqlite is OmniHub's embedded storage engine: SQLite through
// modernc.org/sqlite (pure Go, no cgo), in WAL mode with synchronous=FULL so
// that a committed transaction survives a power cut.
//
// SQLite allows one writer at a time. Rather than let connections fight over
// the write lock (SQLITE_BUSY), the engine keeps exactly one write connection
// — every transaction and every job-queue operation goes through it, in turn —
// and a small pool of read-only connections for queries outside transactions.
// Throughput comes from doing more work per transaction (group commit), not
// from more connections.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/sqlstore"
	"omnihub/store/txgroup"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configure Open.
type Options struct {
	// Path of the database file. Its directory is created if missing.
	Path string
	// Jobs configures the durable job queue.
	Jobs jobs.Config
	// ReadConns is the size of the read-only pool (default: number of CPUs, at least 2).
	ReadConns int
}

// DB is an open SQLite database.
type DB struct {
	path   string
	writer *sql.DB
	reader *sql.DB
	read   sqlstore.Querier
	// Prepared statements of the writer and of the readers.
	writeStmts, readStmts *sqlstore.StmtCache
	jobs                  *jobs.Client[*sql.Tx]
	migs                  []store.Migration
	ckpt                  *checkpointer
	// txs shares the writer's transactions between concurrent InTx
	// callers (group commit).
	txs txgroup.Group[struct{}]
}

var _ store.DB = (*DB)(nil)

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(ON)")
	// A 64 MiB page cache per connection (the default is 2 MiB): order and
	// reservation indexes of a busy day outgrow 2 MiB, and every miss is a
	// pread under the write lock.
	q.Add("_pragma", "cache_size(-65536)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// The writer never checkpoints: a commit that crosses the
		// automatic threshold would copy the WAL into the main file and
		// fsync it while holding the only write connection. The
		// checkpointer does that on its own connection (see checkpointer).
		q.Add("_pragma", "wal_autocheckpoint(0)")
		// Savepoints of shared transactions (InTx) journal the pages they
		// change; keep that journal in memory rather than in temp files.
		q.Add("_pragma", "temp_store(MEMORY)")
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the database at opts.Path. It does not
// migrate; call Migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.Path == "" {
		return nil, errs.E(errs.Invalid, "sqlite: empty database path")
	}
	if dir := filepath.Dir(opts.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, errs.Wrap(err, errs.Unavailable, "sqlite: create data directory %s", dir)
		}
	}
	writer, err := sql.Open("sqlite", dsn(opts.Path, false))
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "sqlite: open %s", opts.Path)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, errs.Wrap(err, errs.Unavailable, "sqlite: open %s", opts.Path)
	}
	reader, err := sql.Open("sqlite", dsn(opts.Path, true))
	if err != nil {
		writer.Close()
		return nil, errs.Wrap(err, errs.Unavailable, "sqlite: open %s read-only", opts.Path)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = max(2, runtime.NumCPU())
	}
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)

	migs, err := store.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	db := &DB{path: opts.Path, writer: writer, reader: reader, migs: migs,
		writeStmts: sqlstore.NewStmtCache(writer, 0), readStmts: sqlstore.NewStmtCache(reader, 0)}
	db.read = sqlstore.Querier{Conn: reader, Codec: codec{}, Stmts: db.readStmts}
	db.txs.InTx = db.ownTx
	if db.ckpt, err = startCheckpointer(opts.Path); err != nil {
		db.Close()
		return nil, err
	}

	workers := jobs.NewWorkers()
	rc, err := river.NewClient(riversqlite.New(writer), jobs.RiverConfig(opts.Jobs, workers))
	if err != nil {
		db.Close()
		return nil, errs.Wrap(err, errs.Internal, "sqlite: create job queue")
	}
	db.jobs = jobs.NewClient(rc, workers)
	return db, nil
}

func (db *DB) Engine() store.Engine { return store.SQLite }
func (db *DB) Jobs() jobs.Queue     { return db.jobs }

// Path is the database file.
func (db *DB) Path() string { return db.path }

func (db *DB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	// Writes outside a transaction must use the writer.
	return sqlstore.Querier{Conn: db.writer, Codec: codec{}, Stmts: db.writeStmts}.Exec(ctx, query, args...)
}

func (db *DB) Query(ctx context.Context, query string, args ...any) (store.Rows, error) {
	return db.read.Query(ctx, query, args...)
}

func (db *DB) QueryRow(ctx context.Context, query string, args ...any) store.Row {
	return db.read.QueryRow(ctx, query, args...)
}

// InTx runs fn in a write transaction. SQLite has one writer, so
// transactions wait for each other anyway; those that queue up while one
// runs share the next transaction and its single durable commit, each in a
// savepoint of its own (package txgroup): a failing fn is rolled back alone
// and gets its error, exactly as with a transaction of its own. Inside a
// shared transaction fn gets ctx's values but not its cancellation.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return db.txs.Do(ctx, func(ctx context.Context, tx store.Tx) (struct{}, error) {
		return struct{}{}, fn(ctx, tx)
	})
}

// ownTx is one real transaction on the writer.
func (db *DB) ownTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return sqlstore.InTx(ctx, db.writer, db.writeStmts, codec{}, store.SQLite, db.jobs, fn, nil)
}

func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return errs.Wrap(err, errs.Unavailable, "sqlite: ping")
	}
	return nil
}

func (db *DB) Close() error {
	var err error
	if db.readStmts != nil {
		_ = db.readStmts.Close()
		_ = db.writeStmts.Close()
	}
	if db.ckpt != nil {
		err = errors.Join(err, db.ckpt.close())
	}
	if db.reader != nil {
		err = errors.Join(err, db.reader.Close())
	}
	if db.writer != nil {
		// Checkpoint so the main file holds everything and the WAL is small.
		_, _ = db.writer.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		err = errors.Join(err, db.writer.Close())
	}
	return err
}

func (db *DB) migrator() store.Migrator {
	return store.Migrator{DB: db, Migrations: db.migs, ExecScript: func(ctx context.Context, tx store.Tx, script string) error {
		_, err := tx.Exec(ctx, script)
		return err
	}}
}

func (db *DB) Migrate(ctx context.Context, dir store.Direction, steps int) ([]store.MigrationStatus, error) {
	if dir == store.Up {
		m, err := rivermigrate.New(riversqlite.New(db.writer), nil)
		if err != nil {
			return nil, fmt.Errorf("sqlite: job queue migrations: %w", err)
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return nil, fmt.Errorf("sqlite: job queue migrations: %w", err)
		}
	}
	return db.migrator().Run(ctx, dir, steps)
}

func (db *DB) MigrationStatus(ctx context.Context) ([]store.MigrationStatus, error) {
	return db.migrator().Status(ctx)
}

// codec adapts values and errors between OmniHub and modernc.org/sqlite.
type codec struct{}

// timeLayout is fixed-width so that stored times sort as text.
const timeLayout = "2006-01-02 15:04:05.000000"

func (codec) Arg(v any) any {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format(timeLayout)
	case *time.Time:
		if t == nil {
			return nil
		}
		return t.UTC().Format(timeLayout)
	}
	return v
}

func (codec) ScanTime(src any) (time.Time, bool, error) {
	switch s := src.(type) {
	case nil:
		return time.Time{}, false, nil
	case time.Time:
		return s.UTC(), true, nil
	case string:
		return parseTime(s)
	case []byte:
		return parseTime(string(s))
	case int64:
		return time.UnixMicro(s).UTC(), true, nil
	}
	return time.Time{}, false, fmt.Errorf("cannot scan %T into time", src)
}

func parseTime(s string) (time.Time, bool, error) {
	for _, layout := range []string{timeLayout, "2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("cannot parse time %q", s)
}

func (codec) Err(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNoRows
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrUniqueViolation, err)
		}
	}
	return err
}

// Transient: the single writer connection never meets SQLITE_BUSY from this
// process; another process holding the lock is covered by busy_timeout.
func (codec) Transient(error) bool { return false }
