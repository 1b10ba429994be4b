package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
	"sync/atomic"
	"time"

	"omnihub/errs"
)

// A checkpointer copies committed WAL frames back into the main database
// file from its own connection, so that the single write connection never
// pays for it inside a commit.
//
// By default SQLite checkpoints in the connection whose commit pushes the
// WAL past 1,000 pages: that commit then also writes those pages into the
// database file and fsyncs it, while every other writer waits. With the
// writer's automatic checkpoint off, this goroutine runs PASSIVE checkpoints
// (they never block the writer or readers) on a second core. When a
// checkpoint has copied every frame, the writer's next transaction starts
// the WAL over from its beginning, so the file stays as large as the writes
// between two checkpoints.
//
// If readers keep the WAL from being reset and it outgrows ckptTruncateAt,
// a TRUNCATE checkpoint waits for them (busy_timeout) and empties the file.
type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
	// copied counts the WAL frames checkpoints reported copied (for tests
	// and diagnostics).
	copied atomic.Int64
}

const (
	ckptEvery      = 50 * time.Millisecond
	ckptTruncateAt = 64 << 10 // WAL frames (pages): 256 MiB at 4 KiB
)

func startCheckpointer(path string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "sqlite: open checkpoint connection")
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(ckptEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var busy, frames, copied int
		if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
			if ctx.Err() == nil {
				slog.Warn("sqlite: checkpoint", "mode", "PASSIVE", "err", err)
			}
			continue
		}
		c.copied.Add(int64(max(copied, 0)))
		if frames > ckptTruncateAt {
			if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil && ctx.Err() == nil {
				slog.Warn("sqlite: checkpoint", "mode", "TRUNCATE", "err", err)
			}
		}
	}
}

func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
