package sync

import (
	"context"
	"strconv"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
)

// Burst coalescing.
//
// A live-stream sale makes a platform push hundreds of order messages a
// second for one shop. Reading each order with its own detail call would
// spend the shop's API budget one order at a time and fall behind; one
// incremental search over the last few seconds returns a page of full
// orders per call. So when a shop's inbox holds a backlog of order messages,
// the message jobs of that shop share one burst pull at a time (a
// singleflight per shop in this process): it reads the window that covers
// the backlog, ingests what it finds, and marks processed exactly the
// messages whose order it read after the message arrived — the platform's
// state at that moment is at least as new as the event. A job whose message
// the pull did not cover (it arrived after the pull began) joins the next
// one; a message the searches never return (indexing lag on the platform)
// is read on its own once it has waited BurstMaxWait. Nothing is skipped on
// a guess, and two processes pulling the same burst only repeat idempotent
// ingests.

// burstMargin widens a burst window before its oldest message: a platform
// stamps the order's update time a little before it sends the message.
const burstMargin = 5 * time.Second

// orderMessageKinds are the inbox kinds a burst pull can satisfy.
var orderMessageKinds = []string{
	string(channel.MsgOrderCreated), string(channel.MsgOrderPaid), string(channel.MsgOrderModified),
	string(channel.MsgOrderCanceled), string(channel.MsgOrderShipped),
}

func orderKindsSQL(first int) (string, []any) {
	ph := make([]string, len(orderMessageKinds))
	args := make([]any, len(orderMessageKinds))
	for i, k := range orderMessageKinds {
		ph[i] = "$" + strconv.Itoa(first+i)
		args[i] = k
	}
	return "(" + strings.Join(ph, ",") + ")", args
}

// viaBurst tries to answer an order message through burst pulls; covered
// reports that a pull read the message's order, so no detail call is needed.
func (e *Engine) viaBurst(ctx context.Context, shopID, inboxID string, received time.Time, conn channel.Connector) (covered bool, err error) {
	if e.cfg.BurstThreshold < 0 {
		return false, nil
	}
	puller, ok := conn.(channel.OrderPuller)
	if !ok {
		return false, nil
	}
	// At least one burst is tried whatever the message's age: a message
	// that waited in a long job queue (the very backlog bursts are for)
	// must not fall back to a detail call of its own just for having
	// waited, or a shop that falls behind falls further behind. The
	// deadline only bounds the retries for a message the searches miss.
	deadline := received.Add(e.cfg.BurstMaxWait)
	for first := true; first || e.now().Before(deadline); first = false {
		busy, err := e.backlogAtLeast(ctx, shopID, e.cfg.BurstThreshold)
		if err != nil || !busy {
			return false, err
		}
		if _, err, _ := e.bursts.Do(shopID, func() (any, error) { return nil, e.burstPull(ctx, shopID, puller) }); err != nil {
			return false, err
		}
		var processed *time.Time
		if err := e.deps.DB.QueryRow(ctx, `SELECT processed_at FROM sync_inbox WHERE id = $1`, inboxID).Scan(&processed); err != nil {
			return false, errs.Wrap(err, errs.Internal, "read inbox message %s", inboxID)
		}
		if processed != nil {
			return true, nil
		}
	}
	return false, nil
}

// backlogAtLeast reports whether a shop has n or more unprocessed order
// messages.
func (e *Engine) backlogAtLeast(ctx context.Context, shopID string, n int) (bool, error) {
	in, kinds := orderKindsSQL(2)
	var backlog int
	err := e.deps.DB.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM sync_inbox
		WHERE shop_id = $1 AND processed_at IS NULL AND kind IN `+in+` LIMIT `+strconv.Itoa(n)+`) b`,
		append([]any{shopID}, kinds...)...).Scan(&backlog)
	if err != nil {
		return false, errs.Wrap(err, errs.Internal, "count the inbox backlog")
	}
	return backlog >= n, nil
}

// burstPull reads the window covering a shop's backlog of order messages
// and marks processed those it answered.
func (e *Engine) burstPull(ctx context.Context, shopID string, puller channel.OrderPuller) error {
	start := time.Now()
	defer func() { e.m.CallSeconds.WithLabelValues("burst_pull").Observe(time.Since(start).Seconds()) }()
	sess, sh, err := e.activeSession(ctx, shopID)
	if err != nil {
		return err
	}
	// The search starts now: any message stored before this instant is
	// answered by what the search returns.
	pullStart := store.UTC(e.now())
	in, kinds := orderKindsSQL(2)
	var oldest time.Time
	err = e.deps.DB.QueryRow(ctx, `SELECT received_at FROM sync_inbox
		WHERE shop_id = $1 AND processed_at IS NULL AND kind IN `+in+` ORDER BY received_at LIMIT 1`,
		append([]any{sh.ID}, kinds...)...).Scan(&oldest)
	if err == store.ErrNoRows {
		return nil // the backlog was handled meanwhile
	}
	if err != nil {
		return errs.Wrap(err, errs.Internal, "read the inbox backlog")
	}
	limits := puller.PullLimits()
	from := oldest.Add(-burstMargin)
	if limits.MaxWindow > 0 && pullStart.Sub(from) > limits.MaxWindow {
		// A backlog older than one window is not a burst: the scheduled
		// pull and single reads handle the rest.
		from = pullStart.Add(-limits.MaxWindow)
	}
	seen := map[string]bool{}
	if _, err := e.pullWindow(ctx, sh.ID, puller, sess, seen, from, pullStart, limits.MaxPageSize, "burst"); err != nil {
		return e.classify(ctx, sh, "burst_pull", err)
	}
	if err := e.markCovered(ctx, sh.ID, pullStart, seen); err != nil {
		return err
	}
	e.observe(sh.ID, "burst_pull", true)
	return nil
}

// markCovered marks processed the order messages stored before pullStart
// whose order the burst pull read.
func (e *Engine) markCovered(ctx context.Context, shopID string, pullStart time.Time, seen map[string]bool) error {
	if len(seen) == 0 {
		return nil
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	now := store.UTC(e.now())
	in, kinds := orderKindsSQL(4)
	const chunk = 200
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		part := ids[:n]
		ids = ids[n:]
		args := append([]any{shopID, now, pullStart}, kinds...)
		ph := make([]string, len(part))
		for i, id := range part {
			ph[i] = "$" + strconv.Itoa(4+len(kinds)+i)
			args = append(args, id)
		}
		_, err := e.deps.DB.Exec(ctx, `UPDATE sync_inbox SET processed_at = $2
			WHERE shop_id = $1 AND processed_at IS NULL AND received_at <= $3 AND kind IN `+in+`
			AND ref_id IN (`+strings.Join(ph, ",")+`)`, args...)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "mark covered messages")
		}
	}
	return nil
}
