package postgres

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"omnihub/errs"
)

// An analyzer keeps the planner's statistics up with tables that grow fast.
//
// PostgreSQL plans from statistics that autovacuum refreshes after a tenth
// of a table has changed, checking once a minute. A table that grows from
// empty (a new install, an import, the first hours of a flash sale) is
// planned as if it were still tiny for that long, and the plans chosen for
// a tiny table read all of it: measured on orders, the batch lookup of
// stored orders by platform id went through the shop's whole index (15 ms
// and growing at 14,000 orders, 1 ms once analyzed), and ingest ran at
// about half its speed. Every analyzeEvery this goroutine analyzes the
// schema's tables that changed by at least analyzeMinChanges rows and
// analyzeFraction of their size since their last analysis. Processes
// sharing the database take turns through an advisory lock per table.
type analyzer struct {
	pool   *pgxpool.Pool
	cancel context.CancelFunc
	done   chan struct{}
	// analyzed counts the tables analyzed (tests, diagnostics).
	analyzed atomic.Int64
}

const (
	analyzeEvery      = 2 * time.Second
	analyzeMinChanges = 1000
	analyzeFraction   = 0.2
	// analyzeLock is the first of the two int4 advisory lock keys (a space
	// apart from the single-bigint keys used elsewhere); the table's oid is
	// the second.
	analyzeLock int32 = 71_460_112
)

func startAnalyzer(pool *pgxpool.Pool, every time.Duration) *analyzer {
	ctx, cancel := context.WithCancel(context.Background())
	a := &analyzer{pool: pool, cancel: cancel, done: make(chan struct{})}
	go a.run(ctx, every)
	return a
}

func (a *analyzer) stop() {
	a.cancel()
	<-a.done
}

func (a *analyzer) run(ctx context.Context, every time.Duration) {
	defer close(a.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.pass(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("postgres: analyze", "err", err)
		}
	}
}

// pass analyzes the tables of the current schema that changed enough.
func (a *analyzer) pass(ctx context.Context) error {
	rows, err := a.pool.Query(ctx, `SELECT relid::bigint, relname, n_live_tup, n_mod_since_analyze
		FROM pg_stat_user_tables WHERE schemaname = current_schema()`)
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "read table statistics")
	}
	type table struct {
		oid  int64
		name string
	}
	var due []table
	for rows.Next() {
		var t table
		var live, changed int64
		if err := rows.Scan(&t.oid, &t.name, &live, &changed); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Unavailable, "read table statistics")
		}
		if changed >= analyzeMinChanges && float64(changed) >= analyzeFraction*float64(live) {
			due = append(due, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, errs.Unavailable, "read table statistics")
	}
	for _, t := range due {
		if err := a.analyze(ctx, t.oid, t.name); err != nil {
			return err
		}
	}
	return nil
}

// analyze runs ANALYZE on one table unless another process is at it.
func (a *analyzer) analyze(ctx context.Context, oid int64, name string) error {
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1::int, $2::int)`, analyzeLock, int32(uint32(oid))).Scan(&mine); err != nil {
			return errs.Wrap(err, errs.Unavailable, "lock %s for analyze", name)
		}
		if !mine {
			return nil
		}
		if _, err := tx.Exec(ctx, "ANALYZE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return errs.Wrap(err, errs.Unavailable, "analyze %s", name)
		}
		a.analyzed.Add(1)
		return nil
	})
}
