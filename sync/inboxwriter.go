package sync

import (
	"context"
	"encoding/json"
	stdsync "sync"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// Group commit of the inbox.
//
// During a live-stream sale a platform pushes hundreds of webhook calls a
// second, each with a message or two, and each must be durable before it is
// acknowledged. One transaction per call would make the inbox as slow as the
// disk's flush (SQLite has one writer; every commit waits for fsync). So
// concurrent calls share commits: the first caller to find the writer idle
// becomes its leader and writes, in one transaction, everything queued by
// then; calls arriving meanwhile queue up for the next transaction. No
// timer and no background goroutine: a lone call is written at once, and
// the batches grow exactly as much as the load makes them wait anyway.

// inboxWriter batches inbox writes; the zero value is ready to use.
type inboxWriter struct {
	mu    stdsync.Mutex
	queue []*inboxReq
	busy  bool // a leader is writing
}

type inboxReq struct {
	platform channel.Platform
	shopID   string
	msgs     []channel.Message
	fresh    int // set by the leader
	err      error
	done     chan struct{}
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
	r := &inboxReq{platform: p, shopID: shopID, msgs: msgs, done: make(chan struct{})}
	w := &e.inbox
	w.mu.Lock()
	w.queue = append(w.queue, r)
	lead := !w.busy
	w.busy = true
	w.mu.Unlock()
	if lead {
		e.leadInbox(context.WithoutCancel(ctx), r)
	}
	select {
	case <-r.done:
		return r.fresh, r.err
	case <-ctx.Done():
		// The write may still commit; the platform redelivers and the
		// inbox drops the copy.
		return 0, ctx.Err()
	}
}

// leadInbox writes queued batches until own is answered (own nil: until
// the queue is empty), then hands the lead to a goroutine if more are
// queued, so that one caller does not serve a busy inbox for ever.
func (e *Engine) leadInbox(ctx context.Context, own *inboxReq) {
	w := &e.inbox
	for {
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		if len(batch) == 0 {
			w.busy = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		e.writeInbox(ctx, batch)
		if own != nil && isClosed(own.done) {
			w.mu.Lock()
			more := len(w.queue) > 0
			if !more {
				w.busy = false
			}
			w.mu.Unlock()
			if more {
				go e.leadInbox(ctx, nil)
			}
			return
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// writeInbox stores a batch of requests in one transaction and answers
// them all.
func (e *Engine) writeInbox(ctx context.Context, batch []*inboxReq) {
	var dups map[channel.Platform]int
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		dups = map[channel.Platform]int{}
		now := store.UTC(e.now())
		var jobs []river.InsertManyParams
		for _, r := range batch {
			r.fresh = 0
			for _, m := range r.msgs {
				payload, _ := json.Marshal(m)
				ref := m.PlatformOrderID
				if m.PlatformRefundID != "" {
					ref = m.PlatformRefundID
				}
				id := ids.New()
				n, err := tx.Exec(ctx, `INSERT INTO sync_inbox (id, platform, shop_id, msg_id, kind, topic, ref_id, received_at, payload)
					VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (platform, msg_id) DO NOTHING`,
					id, string(r.platform), r.shopID, m.ID, string(m.Kind), m.Topic, ref, now, string(payload))
				if err != nil {
					return errs.Wrap(err, errs.Internal, "store message")
				}
				if n == 0 {
					dups[r.platform]++
					continue
				}
				r.fresh++
				jobs = append(jobs, river.InsertManyParams{Args: ProcessArgs{InboxID: id}})
			}
		}
		return tx.InsertJobs(ctx, jobs)
	})
	for p, n := range dups {
		if err == nil {
			e.m.InboxDup.WithLabelValues(string(p)).Add(float64(n))
		}
	}
	for _, r := range batch {
		if err != nil {
			r.fresh, r.err = 0, err
		}
		close(r.done)
	}
}
