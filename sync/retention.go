package sync

import (
	"context"
	"fmt"
	"time"

	"omnihub/errs"
)

// RetentionConfig is how long the sync engine keeps its own records. Each
// of them is written for every message, push or run, so without a limit
// the tables grow for ever: a shop's stock pushes alone can add millions of
// push-log rows a day. Zero takes the default; negative keeps for ever.
type RetentionConfig struct {
	// Messages is how long a processed platform message stays in the inbox
	// (default 30 days). Platforms redeliver within hours, and a delivery
	// that comes back after its message was pruned is ingested again
	// idempotently. Unprocessed messages are never pruned.
	Messages time.Duration
	// PushLog is how long the record of each stock push is kept (default
	// 14 days).
	PushLog time.Duration
	// Reports is how long alerts and reconciliation reports are kept
	// (default 180 days).
	Reports time.Duration
}

func (c RetentionConfig) withDefaults() RetentionConfig {
	if c.Messages == 0 {
		c.Messages = 30 * 24 * time.Hour
	}
	if c.PushLog == 0 {
		c.PushLog = 14 * 24 * time.Hour
	}
	if c.Reports == 0 {
		c.Reports = 180 * 24 * time.Hour
	}
	return c
}

const (
	// pruneChunk rows go per statement, each its own short transaction,
	// so that pruning never holds SQLite's single writer for long.
	pruneChunk = 5000
	// pruneChunksPerPass bounds one pass (the tick runs one a minute):
	// 50,000 rows a table a minute, three million an hour.
	pruneChunksPerPass = 10
)

// retentionTables are the pruned tables. Their ids are UUIDv7 (ids.New),
// which sort by creation time, so "older than" is a range of the primary
// key: no index is needed and a pass reads only what it deletes.
var retentionTables = []struct {
	table, extra string
	keep         func(RetentionConfig) time.Duration
}{
	{"sync_inbox", " AND processed_at IS NOT NULL", func(c RetentionConfig) time.Duration { return c.Messages }},
	{"sync_push_log", "", func(c RetentionConfig) time.Duration { return c.PushLog }},
	{"sync_alerts", "", func(c RetentionConfig) time.Duration { return c.Reports }},
	{"sync_reconcile_runs", "", func(c RetentionConfig) time.Duration { return c.Reports }},
}

// pruneRecords deletes the records older than their retention; it returns
// how many rows it deleted.
func (e *Engine) pruneRecords(ctx context.Context) (int64, error) {
	var total int64
	for _, t := range retentionTables {
		keep := t.keep(e.cfg.Retention)
		if keep < 0 {
			continue
		}
		floor := uuidV7Floor(e.now().Add(-keep))
		for range pruneChunksPerPass {
			n, err := e.deps.DB.Exec(ctx, `DELETE FROM `+t.table+` WHERE id IN (SELECT id FROM `+t.table+
				` WHERE id < $1`+t.extra+` ORDER BY id LIMIT `+fmt.Sprint(pruneChunk)+`)`, floor)
			if err != nil {
				return total, errs.Wrap(err, errs.Internal, "prune %s", t.table)
			}
			total += n
			if n < pruneChunk {
				break
			}
		}
	}
	return total, nil
}

// uuidV7Floor is the smallest UUIDv7 string of time t: every id made at or
// after t sorts at or after it (UUIDv7 begins with the Unix time in
// milliseconds, and the strings are fixed-width lowercase hex).
func uuidV7Floor(t time.Time) string {
	ms := uint64(max(t.UnixMilli(), 0))
	return fmt.Sprintf("%08x-%04x-7000-8000-000000000000", ms>>16, ms&0xffff)
}
