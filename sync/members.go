package sync

import (
	"context"
	"errors"
	stdsync "sync"
	"sync/atomic"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

// Sharing the platform rate among processes.
//
// A platform app's budget (Config.PlatformRate per API family) is the
// cluster's, but token buckets live in each process. So each started engine
// keeps a row in sync_members (id = Deps.ProcessID) with a heartbeat every
// Config.HeartbeatEvery, counts the members whose heartbeat is younger than
// Config.MemberTTL (itself included), and sets its app buckets to the rate
// divided by that number, burst likewise (appLimiter). The shares of all
// processes then add up to the configured rate.
//
// Only while the count is settled. After a member joins, the others keep
// their larger share until their next heartbeat (up to HeartbeatEvery): the
// sum can exceed the rate by one share for that long, and the newcomer's
// buckets start full (one burst more). A member that stops cleanly
// (Engine.Stop) deletes its row and the others take up its share at their
// next heartbeat; one that dies counts as live until MemberTTL has passed,
// during which the sum stays below the rate. Liveness compares heartbeats
// written with each process's clock, so the processes' clocks must agree
// to well within MemberTTL (NTP). A platform's rate-limit answer remains
// the backstop: it snoozes the job, nothing is lost.
//
// A shop's own stock rate (shop settings, Config.ShopRate) is not divided:
// only the holder of the shop's push lease makes its stock calls.

// membership is this process's part in sync_members.
type membership struct {
	live atomic.Int64 // live members, this process included (≥ 1)

	mu     stdsync.Mutex
	cancel context.CancelFunc // of Start's loop; nil when not started
	done   chan struct{}      // closed when Start's loop has returned
}

// Members reports how many sync engines this process counted live at its
// last heartbeat (1 until Start).
func (e *Engine) Members() int { return int(e.members.live.Load()) }

// Start begins this process's part in the cluster: the first heartbeat
// now, then a heartbeat every HeartbeatEvery (recounting the members that
// share the platform rate) and a flush of call counts every FlushEvery,
// until ctx ends or Stop is called. Start it before the job queue, so that
// the first platform call already uses the right share. A failed heartbeat
// or flush is logged and tried again at the next interval.
func (e *Engine) Start(ctx context.Context) {
	m := &e.members
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cancel != nil {
		return
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	if err := e.heartbeat(ctx); err != nil {
		e.log.Warn("sync heartbeat", "err", err)
	}
	go e.runMember(ctx, m.done)
}

func (e *Engine) runMember(ctx context.Context, done chan struct{}) {
	defer close(done)
	beat := time.NewTicker(e.cfg.HeartbeatEvery)
	defer beat.Stop()
	flush := time.NewTicker(e.cfg.FlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if err := e.heartbeat(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("sync heartbeat", "err", err)
			}
		case <-flush.C:
			if err := e.flushCalls(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("flush call counts", "err", err)
			}
		}
	}
}

// Stop ends what Start began, flushes the call counts still in memory and
// deletes this process's sync_members row, so that the other processes
// take up its share of the rate at their next heartbeat. Call it after the
// job queue has stopped, so that the calls of the last jobs are counted.
// Without Start it only flushes.
func (e *Engine) Stop(ctx context.Context) error {
	m := &e.members
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.cancel, m.done = nil, nil
	m.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return errs.Wrap(ctx.Err(), errs.Unavailable, "stop the sync member loop")
		}
	}
	err := e.flushCalls(ctx)
	if cancel != nil {
		if _, derr := e.deps.DB.Exec(ctx, `DELETE FROM sync_members WHERE id = $1`, e.deps.ProcessID); derr != nil {
			err = errors.Join(err, errs.Wrap(derr, errs.Unavailable, "leave sync_members"))
		}
		e.members.live.Store(1)
	}
	return err
}

// heartbeat renews this process's row and recounts the live members. The
// count excludes this process's own row and adds one, so that it is at
// least one whatever the clocks say.
func (e *Engine) heartbeat(ctx context.Context) error {
	now := store.UTC(e.now())
	id := e.deps.ProcessID
	if _, err := e.deps.DB.Exec(ctx, `INSERT INTO sync_members (id, heartbeat_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, id, now); err != nil {
		return errs.Wrap(err, errs.Unavailable, "sync heartbeat of %s", id)
	}
	var others int64
	if err := e.deps.DB.QueryRow(ctx, `SELECT COUNT(*) FROM sync_members WHERE id <> $1 AND heartbeat_at > $2`,
		id, now.Add(-e.cfg.MemberTTL)).Scan(&others); err != nil {
		return errs.Wrap(err, errs.Unavailable, "count sync members")
	}
	if prev := e.members.live.Swap(others + 1); prev != others+1 {
		e.log.Info("sync members changed: platform rate share recomputed", "members", others+1, "was", prev)
	}
	return nil
}

// pruneMembers deletes the rows of members silent for an hour (the tick
// calls it); the count ignores them long before.
func (e *Engine) pruneMembers(ctx context.Context) error {
	cutoff := store.UTC(e.now()).Add(-max(time.Hour, e.cfg.MemberTTL))
	if _, err := e.deps.DB.Exec(ctx, `DELETE FROM sync_members WHERE heartbeat_at < $1`, cutoff); err != nil {
		return errs.Wrap(err, errs.Internal, "prune sync members")
	}
	return nil
}
