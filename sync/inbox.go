package sync

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"omnihub/api"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
)

// Inbox first: a platform message is stored, deduplicated by its platform
// message id, and given a processing job in one transaction before it is
// acknowledged (webhook) or confirmed (TMC). Processing re-reads the current
// document from the platform, so lost, duplicated or reordered messages cost
// latency, never correctness.

type consumeWorker struct {
	river.WorkerDefaults[ConsumeArgs]
	e *Engine
}

func (w *consumeWorker) Work(ctx context.Context, j *river.Job[ConsumeArgs]) error {
	e := w.e
	sess, sh, err := e.activeSession(ctx, j.Args.ShopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	mc, ok := conn.(channel.MessageConsumer)
	if !ok {
		return river.JobCancel(errNoCapability(sh, channel.CapConsumeMessage))
	}
	// Drain what is queued now, in bounded rounds.
	for range 20 {
		if err := e.waitAPI(ctx, sh, sess, apiMessages); err != nil {
			return err
		}
		msgs, err := mc.ConsumeMessages(ctx, sess, 100)
		if err != nil {
			return e.classify(ctx, sh, "consume_messages", err)
		}
		if len(msgs) == 0 {
			break
		}
		if _, err := e.storeMessages(ctx, sh.Platform, sh.ID, msgs); err != nil {
			return err
		}
		// Confirm only after the messages are durable here; a crash in
		// between makes the platform redeliver, and the inbox drops the copy.
		idsToConfirm := make([]string, len(msgs))
		for i, m := range msgs {
			idsToConfirm[i] = m.ID
		}
		if err := mc.ConfirmMessages(ctx, sess, idsToConfirm); err != nil {
			return e.classify(ctx, sh, "confirm_messages", err)
		}
		e.observe(sh.ID, "consume_messages", true)
	}
	return nil
}

type processWorker struct {
	river.WorkerDefaults[ProcessArgs]
	e *Engine
}

func (w *processWorker) Work(ctx context.Context, j *river.Job[ProcessArgs]) error {
	err := w.e.processMessage(ctx, j.Args.InboxID)
	if isPaused(err) {
		// Parked: the message stays unprocessed in the inbox and the
		// shop's resume gives it a new job (ResumeTx).
		return nil
	}
	return err
}

// processMessage applies one inbox message: it re-reads the order or refund
// the message is about and hands it to the domain.
func (e *Engine) processMessage(ctx context.Context, inboxID string) error {
	var (
		shopID, payload string
		received        time.Time
		processed       *time.Time
	)
	err := e.deps.DB.QueryRow(ctx, `SELECT shop_id, payload, received_at, processed_at FROM sync_inbox WHERE id = $1`, inboxID).Scan(&shopID, &payload, &received, &processed)
	if err != nil {
		return store.NotFoundIfNoRows(err, "inbox message %s", inboxID)
	}
	if processed != nil {
		return nil
	}
	var m channel.Message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return river.JobCancel(errs.Wrap(err, errs.Invalid, "inbox message %s", inboxID))
	}
	sess, sh, err := e.activeSession(ctx, shopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	switch {
	case m.PlatformRefundID != "" && e.deps.Refunds != nil:
		rp, ok := conn.(channel.RefundPuller)
		if !ok {
			break
		}
		if err := e.waitAPI(ctx, sh, sess, apiRefunds); err != nil {
			return err
		}
		r, err := rp.GetRefund(ctx, sess, m.PlatformRefundID)
		if err != nil {
			return e.classify(ctx, sh, "get_refund", err)
		}
		// A refund whose order is not in yet brings the order in and is
		// applied again, as the pull does: waiting for the order's own
		// message could outlast the job's retries when that message was
		// lost, and the refund would only come back with the next pull.
		applied, err := e.applyRefund(ctx, sh, sess, conn, r)
		if err != nil {
			return err
		}
		if !applied {
			return errs.E(errs.Unavailable, "refund %s: order %s could not be ingested yet", r.PlatformRefundID, r.PlatformOrderID)
		}
		// A refund changes its order too (refunding, closed): refresh it.
		if r.PlatformOrderID != "" && m.PlatformOrderID == "" {
			m.PlatformOrderID = r.PlatformOrderID
		}
		fallthrough
	case m.PlatformOrderID != "":
		op, ok := conn.(channel.OrderPuller)
		if !ok {
			break
		}
		if m.PlatformRefundID == "" {
			covered, err := e.viaBurst(ctx, shopID, inboxID, received, conn)
			if err != nil {
				return err
			}
			if covered {
				e.observe(shopID, "process_message", true)
				return nil
			}
		}
		if err := e.waitAPI(ctx, sh, sess, apiOrders); err != nil {
			return err
		}
		o, err := op.GetOrder(ctx, sess, m.PlatformOrderID)
		if err != nil {
			return e.classify(ctx, sh, "get_order", err)
		}
		if _, err := e.deps.Orders.Ingest(ctx, shopID, o); err != nil {
			return err
		}
		e.m.Ingested.WithLabelValues(shopID, "message").Inc()
	}
	e.observe(shopID, "process_message", true)
	_, err = e.deps.DB.Exec(ctx, `UPDATE sync_inbox SET processed_at = $1 WHERE id = $2`, store.UTC(e.now()), inboxID)
	return err
}

// PushHandler receives a platform's webhook calls: it verifies the
// signature with the connector, stores the messages in the inbox and answers
// with the acknowledgement the platform expects. Anything unsigned, wrongly
// signed or stale is refused with 401 and changes nothing.
func (e *Engine) PushHandler(p channel.Platform, maxBody int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			api.WriteError(w, r, errs.Wrap(err, errs.Invalid, "read push body"))
			return
		}
		if int64(len(body)) > maxBody {
			api.WriteError(w, r, errs.E(errs.Invalid, "push body larger than %d bytes", maxBody))
			return
		}
		conn, err := e.deps.Connectors(p, "")
		if err != nil {
			api.WriteError(w, r, errs.E(errs.NotFound, "no connector for platform %s", p))
			return
		}
		recv, ok := conn.(channel.PushReceiver)
		if !ok {
			api.WriteError(w, r, errs.E(errs.NotFound, "platform %s does not push", p))
			return
		}
		secretFor := func(appKey string) (string, error) {
			shops, err := e.deps.Shops.ByAppKey(ctx, p, appKey)
			if err != nil || len(shops) == 0 {
				return "", errs.E(errs.Unauthorized, "unknown app key")
			}
			sess, _, err := e.deps.Shops.Session(ctx, shops[0])
			if err != nil {
				return "", err
			}
			return sess.Credentials.AppSecret, nil
		}
		msgs, err := recv.ParsePush(ctx, r.Header, body, secretFor)
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		byShop := map[string][]channel.Message{}
		for _, m := range msgs {
			sh, err := e.deps.Shops.ByPlatformShopID(ctx, p, m.PlatformShopID)
			if err != nil {
				// A message for a shop we do not manage (yet): acknowledge
				// and log, the platform would otherwise retry forever.
				e.log.Warn("push for unknown shop", "platform", p, "platform_shop_id", m.PlatformShopID, "msg", m.ID)
				continue
			}
			byShop[sh.ID] = append(byShop[sh.ID], m)
		}
		for shopID, ms := range byShop {
			if _, err := e.storeMessages(ctx, p, shopID, ms); err != nil {
				api.WriteError(w, r, err)
				return
			}
		}
		status, ct, ack := recv.PushAck()
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write(ack)
	}
}

// Respond sends a seller's after-sales decision to the platform; the
// after-sales domain calls it from its own durable job. While the shop is
// paused it answers a pausedError, which that job passes on to River as a
// snooze: the decision goes out after the resume.
func (e *Engine) Respond(ctx context.Context, shopID string, d channel.RefundDecision) error {
	sess, sh, err := e.activeSession(ctx, shopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	rr, ok := conn.(channel.RefundResponder)
	if !ok {
		return errNoCapability(sh, channel.CapAnswerRefunds)
	}
	if err := e.waitAPI(ctx, sh, sess, apiAnswer); err != nil {
		return err
	}
	err = rr.AnswerRefund(ctx, sess, d)
	e.observe(shopID, "answer_refund", err == nil)
	if channel.IsAuthExpired(err) {
		rerr := e.refreshShop(ctx, shopID)
		if isPaused(rerr) {
			return rerr
		}
		if rerr == nil {
			sess, _, _ = e.session(ctx, shopID)
			err = rr.AnswerRefund(ctx, sess, d)
		}
	}
	return err
}
