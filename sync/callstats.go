package sync

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

// Cluster-wide call outcomes.
//
// The failure-rate alert must see the platform calls of every process, not
// only of the one that happens to run the tick. Each process counts its
// calls in memory per (minute, shop, kind) and adds the counts to
// sync_call_stats every Config.FlushEvery (and when it stops) with one
// upsert that adds to the rows already there; the alert and the monitor sum
// the rows of their window, plus what this process has not flushed yet.
// One statement per flush, whatever the call rate: a busy process writes no
// more than an idle one with a few calls. The tick prunes old minutes.
//
// A process's counts reach the others up to FlushEvery late, and a process
// that dies loses what it had not flushed. If a flush's commit succeeds but
// its answer is lost, the counts are added again on the next flush: the
// alert may then over-count, never miss, a few seconds of calls.

// callStatsChunk bounds the rows of one upsert statement (5 parameters a
// row, within both engines' parameter limits); a flush is one statement
// unless it carries more rows than this.
const callStatsChunk = 1000

// callKey is one row of sync_call_stats.
type callKey struct {
	bucket int64 // the minute: Unix seconds / 60
	shop   string
	kind   string
}

// callCount is a number of successful and failed calls.
type callCount struct {
	ok, failed int64
}

func (c callCount) calls() int64 { return c.ok + c.failed }

// callStats holds this process's counts not yet flushed.
type callStats struct {
	mu      stdsync.Mutex
	pending map[callKey]callCount
	newest  int64 // newest minute counted, to prune once a minute

	prunedAt atomic.Int64 // minute of this process's last prune of the tables

	// flushMu serialises flushes, and readers of the window against them:
	// a reader holding it sees every count once, either in the table or in
	// pending.
	flushMu stdsync.Mutex
}

// minuteOf is the sync_call_stats bucket of t.
func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

// callStatsKeep is how many minutes of counts are kept: an hour, or the
// failure window when it is longer.
func (e *Engine) callStatsKeep() int64 {
	return int64(max(e.cfg.Alerts.FailureWindow, time.Hour)/time.Minute) + 1
}

// add counts one call. Once a minute it drops counts older than keep
// minutes, so that an engine that is never started (and never flushes)
// does not grow without bound.
func (c *callStats) add(k callKey, ok bool, keep int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.pending[k]
	if ok {
		n.ok++
	} else {
		n.failed++
	}
	c.pending[k] = n
	if k.bucket > c.newest {
		c.newest = k.bucket
		for old := range c.pending {
			if old.bucket < k.bucket-keep {
				delete(c.pending, old)
			}
		}
	}
}

// take empties pending and returns what it held.
func (c *callStats) take() map[callKey]callCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.pending
	c.pending = make(map[callKey]callCount, len(out))
	return out
}

// restore adds counts a failed flush took back to pending.
func (c *callStats) restore(counts map[callKey]callCount) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range counts {
		n := c.pending[k]
		n.ok += v.ok
		n.failed += v.failed
		c.pending[k] = n
	}
}

// flushCalls adds this process's pending counts to sync_call_stats. On
// failure they stay pending for the next flush.
func (e *Engine) flushCalls(ctx context.Context) error {
	c := &e.calls
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	counts := c.take()
	if len(counts) == 0 {
		return nil
	}
	// Rows in one order in every process: two PostgreSQL upserts of the
	// same rows then lock them in the same order and cannot deadlock.
	keys := make([]callKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b callKey) int {
		return cmp.Or(cmp.Compare(a.bucket, b.bucket), cmp.Compare(a.shop, b.shop), cmp.Compare(a.kind, b.kind))
	})
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for lo := 0; lo < len(keys); lo += callStatsChunk {
			q, args := upsertCallStats(keys[lo:min(lo+callStatsChunk, len(keys))], counts)
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.restore(counts)
		return errs.Wrap(err, errs.Unavailable, "flush %d call counts", len(keys))
	}
	return nil
}

// upsertCallStats builds one statement adding counts to their rows.
func upsertCallStats(keys []callKey, counts map[callKey]callCount) (string, []any) {
	var b strings.Builder
	b.WriteString(`INSERT INTO sync_call_stats (bucket, shop_id, kind, ok, failed) VALUES `)
	args := make([]any, 0, 5*len(keys))
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		n := 5 * i
		fmt.Fprintf(&b, "($%d,$%d,$%d,$%d,$%d)", n+1, n+2, n+3, n+4, n+5)
		v := counts[k]
		args = append(args, k.bucket, k.shop, k.kind, v.ok, v.failed)
	}
	b.WriteString(` ON CONFLICT (bucket, shop_id, kind) DO UPDATE SET ok = sync_call_stats.ok + excluded.ok, failed = sync_call_stats.failed + excluded.failed`)
	return b.String(), args
}

// failureRates returns, per shop, the calls of every process in the
// failure window: the flushed rows of the window's minutes plus this
// process's pending counts. The window is counted in whole minutes, so it
// reaches up to a minute further back than FailureWindow.
func (e *Engine) failureRates(ctx context.Context) (map[string]callCount, error) {
	c := &e.calls
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	from := minuteOf(e.now().Add(-e.cfg.Alerts.FailureWindow))
	rows, err := e.deps.DB.Query(ctx, `SELECT shop_id, CAST(SUM(ok) AS BIGINT), CAST(SUM(failed) AS BIGINT)
		FROM sync_call_stats WHERE bucket >= $1 GROUP BY shop_id`, from)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read call counts")
	}
	defer rows.Close()
	out := map[string]callCount{}
	for rows.Next() {
		var shopID string
		var n callCount
		if err := rows.Scan(&shopID, &n.ok, &n.failed); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "read call counts")
		}
		out[shopID] = n
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read call counts")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.pending {
		if k.bucket >= from {
			n := out[k.shop]
			n.ok += v.ok
			n.failed += v.failed
			out[k.shop] = n
		}
	}
	return out, nil
}

// pruneCallStats deletes the minutes older than callStatsKeep (the tick
// calls it, once a minute).
func (e *Engine) pruneCallStats(ctx context.Context) error {
	_, err := e.deps.DB.Exec(ctx, `DELETE FROM sync_call_stats WHERE bucket < $1`, minuteOf(e.now())-e.callStatsKeep())
	if err != nil {
		return errs.Wrap(err, errs.Internal, "prune call counts")
	}
	return nil
}
