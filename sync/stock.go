package sync

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/shop"
	"omnihub/store"
)

// Stock propagation.
//
// Inventory marks (shop, SKU) pairs whose sellable number moved, in the
// transaction that moved it, and calls OnMarkedTx. That schedules one push
// job per shop and push round; bursts coalesce because a job reads every
// pending mark of its shop and only each SKU's latest value is pushed.
//
// Correctness under concurrency rests on two columns of the shop's row in
// sync_push_rounds and on a barrier between marking transactions and the
// round's advance:
//   - round: a marking transaction makes sure a job is queued for the
//     shop's current round: the first marking transaction of a round
//     enqueues it (queued_round), later ones find it queued. A push job
//     first advances the round, behind the barrier, then reads the marks.
//     The barrier: the advance waits for every marking transaction that read
//     the round before it, and one that comes later waits for the advance
//     to commit and reads the new round. So a mark whose transaction read
//     round r committed before r's job advanced the round, and that job's
//     read sees it; one that read r+1 has r+1's job. No change can fall
//     between two rounds.
//   - lease: one job at a time pushes for a shop, so an older value can never
//     overwrite a newer one on the channel. A job that finds the lease held
//     snoozes briefly.
//
// The barrier on SQLite (one writer): a marking transaction locks its
// shops' round rows (an upsert, in sorted order) and the advance is an
// UPDATE of the row, which waits for them. On PostgreSQL those row locks
// made every marking transaction wait, until its commit, for every other
// one touching any of the same shops (a SKU listed on ten shops touches ten
// rows), and the lease's release waited for them too. There the round has a
// lock of its own, a transaction-scoped advisory lock keyed by a hash of the
// shop id (roundLockKey), which marking transactions share:
//   - a marking transaction takes its shops' round locks SHARED, keys in
//     sorted order, then reads round and queued_round in a statement of its
//     own (READ COMMITTED: its snapshot is taken once it holds the locks, so
//     it sees any advance that held one before it). Marking transactions do
//     not wait for each other.
//   - the advance (acquirePushLease) takes the shop's round lock EXCLUSIVE
//     in the transaction that updates the round: it waits for the marking
//     transactions holding it, and those arriving meanwhile queue behind it
//     until it commits. PostgreSQL queues lock requests fairly; row locks
//     taken FOR SHARE are not queued behind a waiting UPDATE, so a steady
//     stream of them could hold the advance off indefinitely (and each
//     writes the row, with a new multixact when several hold it). A job
//     takes the barrier only when the lease is free: one that will snooze
//     does not hold marking back.
//   - queuing a round's job once: the note in queued_round cannot be
//     written under the round lock, which the transaction only shares (two
//     sharers upgrading to exclusive would deadlock); it is a row lock of
//     its own. The marking transaction that finds queued_round < round
//     claims the round (UPDATE … SET queued_round = round WHERE
//     queued_round < round) and, if that matched, inserts the job. Another
//     that read the same round waits on the row for the claimer's commit,
//     then matches nothing and inserts nothing. That wait happens once per
//     round, and a round lasts a whole job (which lingers over many
//     changes), not one change. Relying on River's unique insert alone
//     would not do: a duplicate insert updates the existing job's row, so
//     every marking transaction would hold that row until its commit (the
//     same queue, moved to river_job, plus a dead row per change).
//   - no deadlock among them: a marking transaction takes its round locks
//     in key order, then its claims in shop order, and waits for nothing
//     else here; the advance holds one round lock and then updates a row
//     that no marking transaction can hold at that moment (a claimer holds
//     the round lock shared until its commit). A transaction that goes on
//     taking other locks after marking (order ingestion writes its batch's
//     orders after reserving) can still meet the advance in a cycle through
//     those locks; PostgreSQL breaks it and the transaction is retried. The
//     exclusive row locks allowed that cycle even without an advance.
//   - ensurePushRoundTx (tick, requeue) reads the round without the lock:
//     it marks nothing, and a round already advanced only costs a job that
//     finds nothing to push.

// Latency. A job that holds the lease does not stop at the first empty
// read: it lingers while changes keep coming (woken at once by marking
// transactions of this process, polling for those of others) and pushes
// them as they commit, up to pushMaxRun. Under a steady stream of changes a
// shop is served by one running job instead of a job fetch and a lease
// hand-over per round, which on SQLite (no notifications) would cost up to
// the queue's poll interval each time. Each cycle records its pushes and
// acknowledges its marks in one transaction.

const (
	// pushLease bounds how long a crashed job's lease blocks its shop.
	pushLease = 2 * time.Minute
	// pushMaxRun is how long one job pushes before it leaves the shop to the
	// next round's job (and frees its queue worker for other work).
	pushMaxRun = 30 * time.Second
	// pushLinger is how long a job waits for more changes once its shop has
	// nothing pending.
	pushLinger = 500 * time.Millisecond
	// pushPoll is how often a lingering job looks for marks committed by
	// other processes (this process's marking transactions wake it at once).
	pushPoll = 50 * time.Millisecond
	// pushGather lets a woken job collect the changes committing with the
	// one that woke it, so that a cycle is not one SKU at a time.
	pushGather = 20 * time.Millisecond
	// pushInterval spaces the cycles of a busy shop: a cycle starts at
	// least this long after the previous one started. The platforms' batch
	// stock APIs take one item's SKUs per call, so a cycle costs about one
	// call per item touched, however many changes it carries; spacing the
	// cycles lets each carry a quarter second of changes instead of a few
	// milliseconds' worth. A shop that was quiet is pushed after
	// pushGather only.
	pushInterval = 250 * time.Millisecond
	// pushHeld is the snooze of a job that finds its shop's lease held.
	pushHeld = 20 * time.Millisecond
)

// PushAck acknowledges that a version of a (shop, SKU) mark reached the
// channel.
type PushAck struct {
	SKUID   string
	Version int64
}

// pushAcker is a StockSource that acknowledges many marks in the caller's
// transaction; without it each SKU is acknowledged in a transaction of its
// own.
type pushAcker interface {
	AckPushesTx(ctx context.Context, tx store.Tx, shopID string, acks []PushAck) error
}

// pushers tracks the push jobs running in this process, so that a marking
// transaction can wake its shop's job when it commits. The zero value is
// ready to use.
type pushers struct {
	mu   stdsync.Mutex
	wake map[string]chan struct{}
}

func (p *pushers) register(shopID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	if p.wake == nil {
		p.wake = map[string]chan struct{}{}
	}
	p.wake[shopID] = ch
	p.mu.Unlock()
	return ch, func() {
		p.mu.Lock()
		if p.wake[shopID] == ch {
			delete(p.wake, shopID)
		}
		p.mu.Unlock()
	}
}

// kick wakes the shop's running job, reporting whether there is one.
func (p *pushers) kick(shopID string) bool {
	p.mu.Lock()
	ch, ok := p.wake[shopID]
	p.mu.Unlock()
	if ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return ok
}

// OnMarkedTx is inventory's push hook: it makes sure a push round is queued
// for each shop, in the caller's transaction, and wakes the shops' running
// push jobs once it commits.
func (e *Engine) OnMarkedTx(ctx context.Context, tx store.Tx, shopIDs []string) error {
	if len(shopIDs) == 0 {
		return nil
	}
	shops := slices.Compact(slices.Sorted(slices.Values(shopIDs)))
	var queue []pushDue
	var err error
	if tx.Engine() == store.Postgres {
		queue, err = e.shareRoundsTx(ctx, tx, shops)
	} else {
		queue, err = e.lockRoundsTx(ctx, tx, shops)
	}
	if err != nil {
		return err
	}
	nudge := tx.Engine() != store.Postgres // no notifications: see afterMarked
	tx.AfterCommit(func() { e.afterMarked(ctx, shops, queue, nudge) })
	return nil
}

// lockRoundsTx is OnMarkedTx on an engine with one writer (SQLite): one
// statement locks every shop's round row, in a fixed order, and the first
// marking transaction of a round queues its job.
func (e *Engine) lockRoundsTx(ctx context.Context, tx store.Tx, shops []string) ([]pushDue, error) {
	var sb strings.Builder
	args := make([]any, len(shops))
	sb.WriteString(`INSERT INTO sync_push_rounds (shop_id, round) VALUES `)
	for i, id := range shops {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString("($" + strconv.Itoa(i+1) + ", 1)")
		args[i] = id
	}
	sb.WriteString(` ON CONFLICT (shop_id) DO UPDATE SET round = sync_push_rounds.round RETURNING shop_id, round, queued_round`)
	rows, err := tx.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "push rounds for %d shops", len(shops))
	}
	var queue []pushDue
	for rows.Next() {
		var d pushDue
		var queued int64
		if err := rows.Scan(&d.shopID, &d.round, &queued); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, errs.Internal, "scan push round")
		}
		if queued < d.round {
			queue = append(queue, d)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read push rounds")
	}
	for _, d := range queue {
		if err := e.queueRoundTx(ctx, tx, d.shopID, d.round); err != nil {
			return nil, err
		}
	}
	return queue, nil
}

// shareRoundsTx is OnMarkedTx on PostgreSQL: the transaction shares the
// shops' round locks (held to its commit), reads the rounds, and queues the
// job of each round it is the first to claim. See the comment at the top
// of this file for why this cannot lose a change or deadlock.
func (e *Engine) shareRoundsTx(ctx context.Context, tx store.Tx, shops []string) ([]pushDue, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(k) FROM unnest($1::bigint[]) AS k`, roundLockKeys(shops)); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "share push rounds of %d shops", len(shops))
	}
	// A statement of its own: its snapshot must be taken once the locks are
	// held, so that it sees the advance of any job that held one before.
	rounds, err := readRoundsTx(ctx, tx, shops)
	if err != nil {
		return nil, err
	}
	if len(rounds) < len(shops) {
		var missing []string // sorted, as shops is
		for _, id := range shops {
			if _, ok := rounds[id]; !ok {
				missing = append(missing, id)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sync_push_rounds (shop_id, round) SELECT s, 1 FROM unnest($1::text[]) AS s ON CONFLICT (shop_id) DO NOTHING`, missing); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "create push rounds of %d shops", len(missing))
		}
		more, err := readRoundsTx(ctx, tx, missing)
		if err != nil {
			return nil, err
		}
		for id, r := range more {
			rounds[id] = r
		}
	}
	var queue []pushDue
	for _, id := range shops {
		r, ok := rounds[id]
		if !ok {
			return nil, errs.E(errs.Internal, "push round of shop %s vanished", id)
		}
		if r.queued >= r.round {
			continue
		}
		// The claim: the one marking transaction whose update matches
		// queues the round's job. Another that read the same round waits
		// here for the claimer's commit and then matches nothing.
		n, err := tx.Exec(ctx, `UPDATE sync_push_rounds SET queued_round = $2 WHERE shop_id = $1 AND queued_round < $2`, id, r.round)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "claim push round of shop %s", id)
		}
		if n == 0 {
			continue
		}
		if err := tx.InsertJob(ctx, PushStockArgs{ShopID: id, Round: r.round}, uniqueOpts()); err != nil {
			return nil, err
		}
		queue = append(queue, pushDue{id, r.round})
	}
	return queue, nil
}

// roundState is a shop's current push round and the last round queued.
type roundState struct{ round, queued int64 }

func readRoundsTx(ctx context.Context, tx store.Tx, shops []string) (map[string]roundState, error) {
	rows, err := tx.Query(ctx, `SELECT shop_id, round, queued_round FROM sync_push_rounds WHERE shop_id = ANY($1)`, shops)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read push rounds of %d shops", len(shops))
	}
	defer rows.Close()
	out := make(map[string]roundState, len(shops))
	for rows.Next() {
		var id string
		var r roundState
		if err := rows.Scan(&id, &r.round, &r.queued); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan push round")
		}
		out[id] = r
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "read push rounds")
}

// roundLockKeys returns the PostgreSQL advisory lock keys of shops' push
// rounds, sorted and without repeats: every transaction takes them in that
// order. Two shops may share a key (a 64-bit hash); that only makes each
// wait for the other's barrier.
func roundLockKeys(shopIDs []string) []int64 {
	keys := make([]int64, len(shopIDs))
	for i, id := range shopIDs {
		keys[i] = roundLockKey(id)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func roundLockKey(shopID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("omnihub.sync.push_round:" + shopID))
	return int64(h.Sum64())
}

// pushDue is a shop's round whose job a marking transaction enqueued.
type pushDue struct {
	shopID string
	round  int64
}

// queueRoundTx enqueues the push job of a shop's round and notes it queued.
func (e *Engine) queueRoundTx(ctx context.Context, tx store.Tx, shopID string, round int64) error {
	if _, err := tx.Exec(ctx, `UPDATE sync_push_rounds SET queued_round = $2 WHERE shop_id = $1 AND queued_round < $2`, shopID, round); err != nil {
		return errs.Wrap(err, errs.Internal, "queue push round for shop %s", shopID)
	}
	return tx.InsertJob(ctx, PushStockArgs{ShopID: shopID, Round: round}, uniqueOpts())
}

// afterMarked wakes the running push jobs of the marked shops. A job
// enqueued inside a transaction on an engine without notifications is only
// seen at the queue's next poll; inserting it again outside the transaction
// (a duplicate, which the unique options skip) makes this process's queue
// fetch at once.
func (e *Engine) afterMarked(ctx context.Context, shops []string, queued []pushDue, nudge bool) {
	for _, id := range shops {
		e.pushers.kick(id)
	}
	if !nudge {
		return
	}
	for _, q := range queued {
		if _, err := e.deps.DB.Jobs().Insert(context.WithoutCancel(ctx), PushStockArgs{ShopID: q.shopID, Round: q.round}, uniqueOpts()); err != nil {
			e.log.Warn("nudge push job", "shop", q.shopID, "err", err)
		}
	}
}

// ensurePushRoundTx starts a round when marks are pending but no job is (a
// crash between rounds, a job cancelled by hand).
func (e *Engine) ensurePushRoundTx(ctx context.Context, tx store.Tx, shopID string) error {
	var round int64
	err := tx.QueryRow(ctx, `SELECT round FROM sync_push_rounds WHERE shop_id = $1`, shopID).Scan(&round)
	if err == store.ErrNoRows {
		return nil
	}
	if err != nil {
		return err
	}
	return e.queueRoundTx(ctx, tx, shopID, round)
}

type pushWorker struct {
	river.WorkerDefaults[PushStockArgs]
	e *Engine
}

func (w *pushWorker) Work(ctx context.Context, j *river.Job[PushStockArgs]) error {
	e := w.e
	start := time.Now()
	defer func() { e.m.CallSeconds.WithLabelValues("push_stock").Observe(time.Since(start).Seconds()) }()
	owner := fmt.Sprintf("job-%d", j.ID)
	got, err := e.acquirePushLease(ctx, j.Args.ShopID, j.Args.Round, owner)
	if err != nil {
		return err
	}
	if !got {
		return river.JobSnooze(pushHeld)
	}
	defer e.releasePushLease(context.WithoutCancel(ctx), j.Args.ShopID, owner)
	return e.pushWhileBusy(ctx, j.Args.ShopID, start.Add(pushMaxRun))
}

// pushWhileBusy pushes a shop's pending marks, then keeps pushing new ones
// as they commit until the shop has been quiet for pushLinger or until.
func (e *Engine) pushWhileBusy(ctx context.Context, shopID string, until time.Time) error {
	wake, done := e.pushers.register(shopID)
	defer done()
	quietSince := time.Now()
	for {
		cycleStart := time.Now()
		n, more, err := e.pushPending(ctx, shopID, until)
		if err != nil {
			return err
		}
		now := time.Now()
		if now.After(until) {
			if more {
				// Leave the rest to a round of its own rather than to the
				// tick's safety net.
				return e.requeue(ctx, shopID)
			}
			return nil
		}
		if n > 0 {
			quietSince = now
		} else if now.Sub(quietSince) >= pushLinger {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // released; what is pending has a round or the tick's net
		case <-wake:
			wait := pushGather
			if n > 0 {
				wait = max(wait, time.Until(cycleStart.Add(pushInterval)))
			}
			time.Sleep(wait)
		case <-time.After(pushPoll):
			if n > 0 {
				time.Sleep(time.Until(cycleStart.Add(pushInterval)))
			}
		}
	}
}

// requeue makes sure the shop's current round has a job (the caller still
// holds the lease, so that job waits for it).
func (e *Engine) requeue(ctx context.Context, shopID string) error {
	return e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return e.ensurePushRoundTx(ctx, tx, shopID)
	})
}

func (e *Engine) acquirePushLease(ctx context.Context, shopID string, round int64, owner string) (bool, error) {
	now := store.UTC(e.now())
	var n int64
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		n = 0 // a retried transaction starts over
		if tx.Engine() == store.Postgres {
			// The barrier: the round's lock, exclusive, waits for the
			// marking transactions sharing it and holds new ones back
			// until this transaction commits. Taken only when the lease is
			// free: a job that would snooze must not stall marking.
			rows, err := tx.Query(ctx, `SELECT pg_advisory_xact_lock($2)::text FROM sync_push_rounds
				WHERE shop_id = $1 AND (lease_until IS NULL OR lease_until < $3 OR lease_owner = $4)`,
				shopID, roundLockKey(shopID), now, owner)
			if err != nil {
				return err
			}
			locked := rows.Next()
			rows.Close()
			if err := rows.Err(); err != nil || !locked {
				return err
			}
		}
		var err error
		n, err = tx.Exec(ctx, `UPDATE sync_push_rounds
			SET round = CASE WHEN round <= $2 THEN $2 + 1 ELSE round END, lease_owner = $3, lease_until = $4
			WHERE shop_id = $1 AND (lease_until IS NULL OR lease_until < $5 OR lease_owner = $3)`,
			shopID, round, owner, now.Add(pushLease), now)
		return err
	})
	if err != nil {
		return false, errs.Wrap(err, errs.Internal, "acquire push lease for shop %s", shopID)
	}
	return n == 1, nil
}

func (e *Engine) releasePushLease(ctx context.Context, shopID, owner string) {
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sync_push_rounds SET lease_owner = '', lease_until = NULL WHERE shop_id = $1 AND lease_owner = $2`, shopID, owner)
		return err
	})
	if err != nil {
		e.log.Warn("release push lease", "shop", shopID, "err", err)
	}
}

// pushItem is one listing's update and the mark it carries.
type pushItem struct {
	update channel.StockUpdate
	mark   PushMark
}

// pushPending pushes every pending mark of a shop, latest value per SKU,
// in batches of one platform item's SKUs up to the platform's batch size
// (stockBatches), and acknowledges what the platform accepted, per SKU. It reports how many marks it handled and whether some were
// left when until passed.
func (e *Engine) pushPending(ctx context.Context, shopID string, until time.Time) (handled int, more bool, err error) {
	sess, sh, err := e.session(ctx, shopID)
	if err != nil {
		return 0, false, err
	}
	if sh.Status != shop.Active || !sh.Settings.PushStock {
		// Nothing goes to a paused shop or one that opted out; acknowledge
		// so marks do not pile up (a resume reconciles).
		return 0, false, e.ackAll(ctx, shopID)
	}
	conn, err := e.connector(sh)
	if err != nil {
		return 0, false, err
	}
	pusher, ok := conn.(channel.StockPusher)
	if !ok {
		return 0, false, e.ackAll(ctx, shopID)
	}
	batchMax := max(pusher.MaxStockBatch(), 1)
	for range 1000 { // bounded: a job never runs forever
		if time.Now().After(until) {
			return handled, true, nil
		}
		marks, err := e.deps.Stock.PendingPushes(ctx, shopID, e.cfg.PushBatch)
		if err != nil {
			return handled, false, err
		}
		if len(marks) == 0 {
			e.m.Lag.WithLabelValues(shopID).Set(0)
			return handled, false, nil
		}
		e.m.Lag.WithLabelValues(shopID).Set(e.now().Sub(marks[0].MarkedAt).Seconds())
		var items []pushItem
		round := pushRound{listings: map[string]int{}}
		skus := make([]string, len(marks))
		for i, pm := range marks {
			skus[i] = pm.SKUID
		}
		bindings, err := e.deps.Listings.BindingsForSKUs(ctx, shopID, skus)
		if err != nil {
			return handled, false, err
		}
		for _, pm := range marks {
			bs := bindings[pm.SKUID]
			if len(bs) == 0 {
				round.done(pm) // nothing to push to
				continue
			}
			qty := max(pm.Sellable, 0)
			round.listings[pm.SKUID] += len(bs)
			for _, b := range bs {
				items = append(items, pushItem{channel.StockUpdate{PlatformItemID: b.PlatformItemID, PlatformSKUID: b.PlatformSKUID, Quantity: qty}, pm})
			}
		}
		handled += len(marks)
		stop := e.pushItems(ctx, sh, sess, pusher, batchMax, items, &round)
		// What was accepted is recorded and acknowledged even when the
		// round stopped early; the rest is read again.
		if err := e.finishRound(ctx, shopID, &round); err != nil {
			return handled, false, err
		}
		if stop != nil {
			return handled, false, stop
		}
		if len(marks) < e.cfg.PushBatch {
			// Everything pending went out; what came in meanwhile waits
			// for the next cycle (pushWhileBusy spaces them).
			return handled, false, nil
		}
	}
	return handled, true, nil
}

// pushRound collects one cycle's outcome: the push log and the marks whose
// every listing was handled.
type pushRound struct {
	listings map[string]int // SKU → listings not yet accepted
	log      []pushLogRow
	acks     []PushAck
}

func (r *pushRound) done(pm PushMark) { r.acks = append(r.acks, PushAck{pm.SKUID, pm.Version}) }

// stockBatches orders a cycle's updates by platform item, then SKU, and
// cuts them into batches of at most max updates that never span two
// items. The platforms' batch stock APIs (taobao.skus.quantity.update,
// sku.syncStockBatch) take SKUs of one item per call, so a batch is one
// API call, which is what the shop's stock rate counts.
func stockBatches(items []pushItem, max int) [][]pushItem {
	slices.SortStableFunc(items, func(a, b pushItem) int {
		return cmp.Or(strings.Compare(a.update.PlatformItemID, b.update.PlatformItemID),
			strings.Compare(a.update.PlatformSKUID, b.update.PlatformSKUID))
	})
	var out [][]pushItem
	for lo := 0; lo < len(items); {
		hi := lo + 1
		for hi < len(items) && hi-lo < max && items[hi].update.PlatformItemID == items[lo].update.PlatformItemID {
			hi++
		}
		out = append(out, items[lo:hi])
		lo = hi
	}
	return out
}

// pushItems calls the platform in batches, returning the error that stopped
// the round (nil when every item was handled).
func (e *Engine) pushItems(ctx context.Context, sh shop.Shop, sess channel.Session, pusher channel.StockPusher, batchMax int, items []pushItem, round *pushRound) error {
	for _, batch := range stockBatches(items, batchMax) {
		updates := make([]channel.StockUpdate, len(batch))
		for i, it := range batch {
			updates[i] = it.update
		}
		if err := e.wait(ctx, sh, sess, sh.Settings.StockRate); err != nil {
			return err
		}
		sent := e.now()
		for _, it := range batch {
			d := sent.Sub(it.mark.MarkedAt)
			e.m.Propagation.Observe(d.Seconds())
			if e.deps.OnPropagation != nil {
				e.deps.OnPropagation(d)
			}
		}
		results, err := pusher.PushStock(ctx, sess, updates)
		if err != nil {
			// The whole call failed: nothing of it is acknowledged, the job
			// retries (or snoozes on a rate limit) and re-reads the latest
			// values.
			return e.classify(ctx, sh, "push_stock", err)
		}
		e.observe(sh.ID, "push_stock", true)
		if len(results) > len(batch) {
			return errs.E(errs.Internal, "%s connector answered %d results for %d stock updates", sh.Platform, len(results), len(batch))
		}
		for i, r := range results {
			it := batch[i]
			if r.Update != it.update {
				// Results are acknowledged per SKU by position: a connector
				// that reorders them must not acknowledge the wrong SKU.
				return errs.E(errs.Internal, "%s connector answered out of order: result %d is for %s, not %s",
					sh.Platform, i, r.Update.PlatformSKUID, it.update.PlatformSKUID)
			}
			round.log = append(round.log, pushLogRow{it.mark.SKUID, r.Update.PlatformSKUID, r.Update.Quantity, it.mark.Version, r.Err})
			if r.Err != nil && channel.IsRetryable(r.Err) {
				return e.classify(ctx, sh, "push_stock", r.Err)
			}
			// A listing rejected for a permanent reason (deleted on the
			// platform) counts as handled, and is logged: retrying cannot
			// fix it, the reconciler reports it. A SKU is acknowledged once
			// all of its listings are handled.
			if round.listings[it.mark.SKUID]--; round.listings[it.mark.SKUID] == 0 {
				round.done(it.mark)
			}
		}
		e.m.Pushed.WithLabelValues(sh.ID).Add(float64(len(batch)))
	}
	return nil
}

type pushLogRow struct {
	skuID, platformSKUID string
	qty, version         int64
	err                  error
}

// finishRound records a cycle's pushes and acknowledges its marks in one
// transaction (per SKU when the stock source cannot join it).
func (e *Engine) finishRound(ctx context.Context, shopID string, r *pushRound) error {
	if len(r.log) == 0 && len(r.acks) == 0 {
		return nil
	}
	acker, batched := e.deps.Stock.(pushAcker)
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := e.recordPushesTx(ctx, tx, shopID, r.log); err != nil {
			return err
		}
		if batched {
			return acker.AckPushesTx(ctx, tx, shopID, r.acks)
		}
		return nil
	})
	if err != nil || batched {
		return err
	}
	for _, a := range r.acks {
		if err := e.deps.Stock.AckPush(ctx, shopID, a.SKUID, a.Version); err != nil {
			return err
		}
	}
	return nil
}

// recordPushesTx appends to the push log: what was pushed, and when. One
// statement per chunk, of constant text whatever the number of rows
// (json_each on SQLite, unnest on PostgreSQL), so that it is prepared once.
func (e *Engine) recordPushesTx(ctx context.Context, tx store.Tx, shopID string, rows []pushLogRow) error {
	const chunk = 500
	now := store.UTC(e.now())
	for len(rows) > 0 {
		part := rows[:min(len(rows), chunk)]
		rows = rows[len(part):]
		n := len(part)
		id, sku, psku, msg := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		qty, ver := make([]int64, n), make([]int64, n)
		ok := make([]bool, n)
		for i, r := range part {
			id[i], sku[i], psku[i], qty[i], ver[i], ok[i] = ids.New(), r.skuID, r.platformSKUID, r.qty, r.version, r.err == nil
			if r.err != nil {
				msg[i] = r.err.Error()
			}
		}
		var err error
		if tx.Engine() == store.Postgres {
			_, err = tx.Exec(ctx, `INSERT INTO sync_push_log (id, shop_id, sku_id, platform_sku_id, quantity, version, ok, error, pushed_at)
				SELECT r.id, $1, r.sku_id, r.platform_sku_id, r.quantity, r.version, r.ok, r.error, $2
				FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::boolean[], $9::text[])
					AS r (id, sku_id, platform_sku_id, quantity, version, ok, error)`,
				shopID, now, id, sku, psku, qty, ver, ok, msg)
		} else {
			rs := make([][]any, n)
			for i := range n {
				rs[i] = []any{id[i], sku[i], psku[i], qty[i], ver[i], ok[i], msg[i]}
			}
			var js []byte
			if js, err = json.Marshal(rs); err != nil {
				return errs.Wrap(err, errs.Internal, "encode stock pushes of shop %s", shopID)
			}
			_, err = tx.Exec(ctx, `INSERT INTO sync_push_log (id, shop_id, sku_id, platform_sku_id, quantity, version, ok, error, pushed_at)
				SELECT value->>0, $1, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, $2 FROM json_each($3)`,
				shopID, now, string(js))
		}
		if err != nil {
			return errs.Wrap(err, errs.Internal, "record stock pushes of shop %s", shopID)
		}
	}
	return nil
}

func (e *Engine) ackAll(ctx context.Context, shopID string) error {
	for range 1000 {
		marks, err := e.deps.Stock.PendingPushes(ctx, shopID, e.cfg.PushBatch)
		if err != nil || len(marks) == 0 {
			return err
		}
		r := pushRound{}
		for _, m := range marks {
			r.done(m)
		}
		if err := e.finishRound(ctx, shopID, &r); err != nil {
			return err
		}
	}
	return nil
}
