package aftersales

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
)

// RespondArgs is the durable job that sends a decision to the platform.
type RespondArgs struct {
	CaseID   string                 `json:"case_id"`
	ShopID   string                 `json:"shop_id"`
	Decision channel.RefundDecision `json:"decision"`
}

// Kind implements river.JobArgs.
func (RespondArgs) Kind() string { return "aftersales_respond" }

// RespondWorker works aftersales_respond jobs through a Responder. A
// transient platform failure is retried with backoff (and ends as a dead
// letter when it never succeeds); a permanent refusal by the platform (or a
// request the connector cannot make) is recorded on the case and the
// job cancelled, since retrying cannot help.
type RespondWorker struct {
	river.WorkerDefaults[RespondArgs]
	DB        store.DB
	Responder Responder
}

// Work implements river.Worker.
func (w *RespondWorker) Work(ctx context.Context, job *river.Job[RespondArgs]) error {
	if w.Responder == nil {
		return errors.New("aftersales: no responder wired")
	}
	err := w.Responder.Respond(ctx, job.Args.ShopID, job.Args.Decision)
	var ae *channel.APIError
	switch {
	case err == nil:
		return w.record(ctx, job.Args.CaseID, ActResponded, "platform accepted "+job.Args.Decision.Action)
	case errors.As(err, &ae) && ae.Class == channel.ClassPermanent,
		!errors.As(err, &ae) && errs.Is(err, errs.Invalid):
		// Retrying the same request cannot succeed: record it on the case
		// for a person and stop.
		if rerr := w.record(ctx, job.Args.CaseID, ActRespondFailed,
			fmt.Sprintf("platform rejected %s: %v", job.Args.Decision.Action, err)); rerr != nil {
			return rerr
		}
		return river.JobCancel(err)
	case channel.IsRateLimited(err) && channel.RetryAfterOf(err) > 0:
		return river.JobSnooze(channel.RetryAfterOf(err))
	}
	return err
}

func (w *RespondWorker) record(ctx context.Context, caseID string, a Action, note string) error {
	return w.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		// Lock the case like every step does, so history numbering
		// cannot race a person's action.
		var st State
		if err := tx.QueryRow(ctx, `SELECT state FROM aftersales_cases WHERE id = $1`+forUpdate(tx), caseID).Scan(&st); err != nil {
			return store.NotFoundIfNoRows(err, "after-sales case %s not found", caseID)
		}
		return addEventTx(ctx, tx, caseID, Event{At: store.UTC(timeNow()), Actor: ActorPlatform, Action: a, From: st, To: st, Note: note})
	})
}

var timeNow = time.Now

// WorkerDeps is what the after-sales workers need.
type WorkerDeps struct {
	DB        store.DB
	Responder Responder
}

// RegisterWorkers adds the after-sales job workers to w (before the queue starts).
func RegisterWorkers(w *river.Workers, deps WorkerDeps) {
	river.AddWorker(w, &RespondWorker{DB: deps.DB, Responder: deps.Responder})
}
