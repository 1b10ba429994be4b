package sync

import (
	"context"
	"encoding/json"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
	"omnihub/store/txgroup"
)

// Group commit of the inbox.
//
// During a live-stream sale a platform pushes hundreds of webhook calls a
// second, each with a message or two, and each must be durable before it is
// acknowledged. One transaction per call would make the inbox as slow as the
// disk's flush. So concurrent calls share transactions (package txgroup: a
// lone call is written at once, calls arriving meanwhile share the next
// transaction), and the processing jobs of all of a transaction's messages
// go in with one InsertMany (inboxJobs, the group's last step).

// newInboxGroup is the Engine's inbox group over db.
func newInboxGroup(db store.DB) *txgroup.Group[[]river.InsertManyParams] {
	inTx := func(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
		return db.InTx(ctx, fn)
	}
	return &txgroup.Group[[]river.InsertManyParams]{InTx: inTx, Finish: inboxJobs}
}

// inboxJobs inserts the processing jobs of a transaction's stored messages.
func inboxJobs(ctx context.Context, tx store.Tx, done [][]river.InsertManyParams) error {
	var all []river.InsertManyParams
	for _, d := range done {
		all = append(all, d...)
	}
	return tx.InsertJobs(ctx, all)
}

// storeMessages writes messages to the inbox, each with its processing job,
// durably; it returns how many were new (the others were duplicates).
func (e *Engine) storeMessages(ctx context.Context, p channel.Platform, shopID string, msgs []channel.Message) (int, error) {
	for _, m := range msgs {
		if m.ID == "" {
			return 0, errs.E(errs.Invalid, "platform message without an id")
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	var fresh, dups int
	err := e.inbox.Do(ctx, func(ctx context.Context, tx store.Tx) ([]river.InsertManyParams, error) {
		fresh, dups = 0, 0 // the callback may be run again
		now := store.UTC(e.now())
		var jobs []river.InsertManyParams
		for _, m := range msgs {
			payload, _ := json.Marshal(m)
			ref := m.PlatformOrderID
			if m.PlatformRefundID != "" {
				ref = m.PlatformRefundID
			}
			id := ids.New()
			n, err := tx.Exec(ctx, `INSERT INTO sync_inbox (id, platform, shop_id, msg_id, kind, topic, ref_id, received_at, payload)
				VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (platform, msg_id) DO NOTHING`,
				id, string(p), shopID, m.ID, string(m.Kind), m.Topic, ref, now, string(payload))
			if err != nil {
				return nil, errs.Wrap(err, errs.Internal, "store message")
			}
			if n == 0 {
				dups++
				continue
			}
			fresh++
			jobs = append(jobs, river.InsertManyParams{Args: ProcessArgs{InboxID: id}})
		}
		return jobs, nil
	})
	if err != nil {
		return 0, err
	}
	if dups > 0 {
		e.m.InboxDup.WithLabelValues(string(p)).Add(float64(dups))
	}
	return fresh, nil
}
