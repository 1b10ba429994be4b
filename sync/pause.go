package sync

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/shop"
	"omnihub/store"
)

// Paused shops.
//
// A merchant pauses a shop when OmniHub must leave the platform shop alone
// for a while (its account is being migrated, its credentials are wrong):
// no call goes to the platform for it and nothing is changed on it. No work
// for it is lost either; it waits for the resume:
//
//   - The tick schedules nothing for a paused shop and the hourly
//     reconciliation passes it over (jobs.go).
//   - Every job that calls the shop's platform or acts for the shop opens the
//     shop through activeSession, the one pause check: a paused shop answers
//     a pausedError, which River takes as a snooze of Config.PausedRecheck.
//     A snooze is not an attempt (River gives the attempt back), so a job
//     may wait out a pause of any length and never becomes a dead letter;
//     after the resume it runs at its next recheck. Order reads check again
//     at each page, so a long pull stops at its next page.
//   - Message jobs park instead of snoozing: the message stays unprocessed
//     in the inbox (where pushes and polls still store what the platform
//     sends) and its job ends; ResumeTx gives every unprocessed message of
//     the shop a new job. A paused shop with a busy inbox thus costs one
//     short job per message, not one per message and recheck.
//   - Stock push rounds acknowledge the shop's marks without a call
//     (stock.go); the reconciliation ResumeTx schedules sets the platform's
//     stock to OmniHub's.

// pausedError says that a job's shop is paused. To River it is a snooze;
// to a caller outside a job, an errs.Conflict.
type pausedError struct {
	shopID  string
	recheck time.Duration
}

func (p *pausedError) Error() string { return "shop " + p.shopID + " is paused" }

// Unwrap gives the pause its two faces: errs.CodeOf finds the conflict,
// River's executor the snooze.
func (p *pausedError) Unwrap() []error {
	return []error{
		errs.E(errs.Conflict, "shop %s is paused: resume it first", p.shopID).WithField("status", string(shop.Paused)),
		river.JobSnooze(p.recheck),
	}
}

// isPaused reports whether err says that the shop is paused.
func isPaused(err error) bool {
	var p *pausedError
	return errors.As(err, &p)
}

// activeSession opens a shop for work that calls its platform or acts for
// it. A shop that is not active answers a pausedError: the job snoozes.
func (e *Engine) activeSession(ctx context.Context, shopID string) (channel.Session, shop.Shop, error) {
	sess, sh, err := e.session(ctx, shopID)
	if err != nil {
		return sess, sh, err
	}
	if sh.Status != shop.Active {
		e.log.Debug("shop paused: job waits", "shop", sh.ID, "recheck", e.cfg.PausedRecheck)
		return channel.Session{}, sh, &pausedError{shopID: sh.ID, recheck: e.cfg.PausedRecheck}
	}
	return sess, sh, nil
}

// resumeChunk bounds the message jobs ResumeTx inserts per statement.
const resumeChunk = 500

// ResumeTx is the sync engine's part of resuming a paused shop, in the
// transaction that makes it active again. It schedules a reconciliation
// (unique like the engine's other per-shop jobs: one queued or running is
// enough), which sets the platform's stock to what changed while the shop
// was paused and brings in any order the pulls missed; and it gives each
// message still unprocessed in the shop's inbox a processing job, since
// the jobs of the messages that arrived while the shop was paused have
// parked. A message whose first job is still queued gets a second one;
// processing is idempotent, so that costs at most a repeated read.
func ResumeTx(ctx context.Context, tx store.Tx, shopID string) error {
	if err := tx.InsertJob(ctx, ReconcileArgs{ShopID: shopID}, uniqueOpts()); err != nil {
		return err
	}
	rows, err := tx.Query(ctx, `SELECT id FROM sync_inbox WHERE shop_id = $1 AND processed_at IS NULL ORDER BY received_at`, shopID)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "read the parked messages of shop %s", shopID)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "scan parked message")
		}
		ids = append(ids, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return errs.Wrap(err, errs.Internal, "read the parked messages of shop %s", shopID)
	}
	for len(ids) > 0 {
		n := min(resumeChunk, len(ids))
		params := make([]river.InsertManyParams, n)
		for i, id := range ids[:n] {
			params[i] = river.InsertManyParams{Args: ProcessArgs{InboxID: id}}
		}
		if err := tx.InsertJobs(ctx, params); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}
