package sync

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
)

// Burst coalescing.
//
// A live-stream sale makes a platform push hundreds of order messages a
// second for one shop. Reading each order with its own detail call would
// spend the shop's API budget one order at a time and fall behind; one
// incremental search over the last few seconds returns up to a page of full
// orders per call. So when a shop's inbox holds a backlog of order messages,
// their processing jobs ask for one burst pull (unique per shop) and wait
// briefly; the burst pull reads the window that covers the backlog, ingests
// what it finds, and marks processed exactly the messages whose order it
// read after the message arrived — the platform's state at that moment is at
// least as new as the event. A message whose order the search did not
// return (indexing lag on the platform) stays unprocessed and is read on
// its own once it has waited BurstMaxWait; nothing is skipped on a guess.

// BurstPullArgs reads a shop's orders covering its inbox backlog.
type BurstPullArgs struct {
	ShopID string `json:"shop_id"`
}

// Kind implements river.JobArgs.
func (BurstPullArgs) Kind() string { return "sync_burst_pull" }

// burstSnooze is how long a message job waits for the burst pull before it
// looks again.
const burstSnooze = 200 * time.Millisecond

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

// coalesce decides whether an order message should wait for a burst pull:
// it does when the shop's backlog of unprocessed order messages reaches the
// threshold and the message is younger than BurstMaxWait. It then makes sure
// a burst pull is queued.
func (e *Engine) coalesce(ctx context.Context, shopID string, receivedAt time.Time, conn channel.Connector) (bool, error) {
	if e.cfg.BurstThreshold < 0 {
		return false, nil
	}
	if _, ok := conn.(channel.OrderPuller); !ok {
		return false, nil
	}
	if e.now().Sub(receivedAt) > e.cfg.BurstMaxWait {
		return false, nil
	}
	in, kinds := orderKindsSQL(2)
	var backlog int
	err := e.deps.DB.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM sync_inbox
		WHERE shop_id = $1 AND processed_at IS NULL AND kind IN `+in+` LIMIT `+strconv.Itoa(e.cfg.BurstThreshold)+`) b`,
		append([]any{shopID}, kinds...)...).Scan(&backlog)
	if err != nil {
		return false, errs.Wrap(err, errs.Internal, "count the inbox backlog")
	}
	if backlog < e.cfg.BurstThreshold {
		return false, nil
	}
	err = e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.InsertJob(ctx, BurstPullArgs{ShopID: shopID}, uniqueOpts())
	})
	return err == nil, err
}

type burstWorker struct {
	river.WorkerDefaults[BurstPullArgs]
	e *Engine
}

func (w *burstWorker) Timeout(*river.Job[BurstPullArgs]) time.Duration { return time.Minute }

func (w *burstWorker) Work(ctx context.Context, j *river.Job[BurstPullArgs]) error {
	e := w.e
	start := time.Now()
	defer func() { e.m.CallSeconds.WithLabelValues("burst_pull").Observe(time.Since(start).Seconds()) }()
	sess, sh, err := e.session(ctx, j.Args.ShopID)
	if err != nil {
		return err
	}
	conn, err := e.connector(sh)
	if err != nil {
		return err
	}
	puller, ok := conn.(channel.OrderPuller)
	if !ok {
		return river.JobCancel(errNoCapability(sh, channel.CapPullOrders))
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
		// pull and single reads handle it.
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
