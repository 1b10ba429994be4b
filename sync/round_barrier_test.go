package sync

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/secrets"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/storetest"
)

// dbMarks is a StockSource whose marks live in a table of the test's
// database, written inside the marking transaction: a mark becomes visible
// to the push job only when that transaction commits, as inventory's do.
// (fakeStock's marks are visible before the commit, so it cannot show a
// change lost between a job's read and a marking commit.)
type dbMarks struct{ db store.DB }

func newDBMarks(t *testing.T, db store.DB) dbMarks {
	t.Helper()
	_, err := db.Exec(context.Background(), `CREATE TABLE test_push_marks (
		shop_id TEXT NOT NULL, sku_id TEXT NOT NULL, sellable BIGINT NOT NULL,
		version BIGINT NOT NULL, pushed_version BIGINT NOT NULL DEFAULT 0,
		marked_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (shop_id, sku_id))`)
	if err != nil {
		t.Fatal(err)
	}
	return dbMarks{db}
}

// markTx sets sku's sellable number to qty on shops (sorted) and calls the
// push hook, in tx.
func (d dbMarks) markTx(ctx context.Context, tx store.Tx, e *Engine, shops []string, sku string, qty int64) error {
	_, err := tx.Exec(ctx, `INSERT INTO test_push_marks (shop_id, sku_id, sellable, version, marked_at)
		SELECT s, $2, $3, 1, $4 FROM unnest($1::text[]) AS s
		ON CONFLICT (shop_id, sku_id) DO UPDATE SET sellable = excluded.sellable, marked_at = excluded.marked_at,
			version = test_push_marks.version + 1`, shops, sku, qty, time.Now())
	if err != nil {
		return err
	}
	return e.OnMarkedTx(ctx, tx, shops)
}

func (d dbMarks) PendingPushes(ctx context.Context, shopID string, limit int) ([]PushMark, error) {
	rows, err := d.db.Query(ctx, `SELECT sku_id, sellable, version, marked_at FROM test_push_marks
		WHERE shop_id = $1 AND pushed_version < version ORDER BY marked_at, sku_id LIMIT $2`, shopID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PushMark
	for rows.Next() {
		var m PushMark
		if err := rows.Scan(&m.SKUID, &m.Sellable, &m.Version, &m.MarkedAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func (d dbMarks) AckPush(ctx context.Context, shopID, skuID string, version int64) error {
	_, err := d.db.Exec(ctx, `UPDATE test_push_marks SET pushed_version = $3
		WHERE shop_id = $1 AND sku_id = $2 AND pushed_version < $3`, shopID, skuID, version)
	return err
}

func (d dbMarks) Sellable(ctx context.Context, shopID, skuID string) (int64, error) {
	var n int64
	err := d.db.QueryRow(ctx, `SELECT sellable FROM test_push_marks WHERE shop_id = $1 AND sku_id = $2`, shopID, skuID).Scan(&n)
	return n, err
}

// shopPlatform records the last quantity pushed per (shop, platform SKU)
// and counts pushes of one shop that overlapped.
type shopPlatform struct {
	mu       stdsync.Mutex
	qty      map[[2]string]int64
	inFlight map[string]int
	overlaps int
	pushes   int
}

func (p *shopPlatform) Platform() channel.Platform { return channel.Taobao }
func (p *shopPlatform) Capabilities() []channel.Capability {
	return []channel.Capability{channel.CapPushStock}
}
func (p *shopPlatform) MaxStockBatch() int { return 20 }

func (p *shopPlatform) PushStock(_ context.Context, s channel.Session, ups []channel.StockUpdate) ([]channel.StockResult, error) {
	p.mu.Lock()
	p.inFlight[s.ShopID]++
	if p.inFlight[s.ShopID] > 1 {
		p.overlaps++
	}
	p.mu.Unlock()
	time.Sleep(time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight[s.ShopID]--
	p.pushes++
	out := make([]channel.StockResult, len(ups))
	for i, u := range ups {
		p.qty[[2]string{s.ShopID, u.PlatformSKUID}] = u.Quantity
		out[i] = channel.StockResult{Update: u}
	}
	return out, nil
}

func (p *shopPlatform) quantity(shopID, sku string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.qty[[2]string{shopID, "p" + sku}]
}

// Many goroutines mark changes for several shops at once on PostgreSQL,
// where marking transactions share the shops' round locks, while push jobs
// advance the rounds. Some marking transactions stay open for longer than a
// job lingers; the last phase arranges that one reads a round whose job is
// already queued and commits long after that job started. Every change
// must reach its channel (the tick, the safety net, is off), no shop's
// pushes may overlap, no job may be left behind, and no marking
// transaction may have to be retried (a deadlock is retried).
func TestMarkingSharesRoundsPostgres(t *testing.T) {
	cfg := jobCfg()
	db := storetest.OpenPostgres(t, cfg)
	ctx := context.Background()
	marks := newDBMarks(t, db)
	plat := &shopPlatform{qty: map[[2]string]int64{}, inFlight: map[string]int{}}
	box, _ := secrets.New(bytes.Repeat([]byte{9}, secrets.KeySize))
	shops := shop.NewService(db, box, shop.Options{})
	e := New(Config{TickEvery: time.Hour}, Deps{
		DB: db, Shops: shops, Stock: marks, Listings: fakeListings{}, Orders: &fakeOrders{orders: map[string]channel.Order{}},
		Connectors: func(channel.Platform, string) (channel.Connector, error) { return plat, nil },
	})
	e.Register(db.Jobs())
	jctx, cancel := context.WithCancel(ctx)
	if err := db.Jobs().Start(jctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = db.Jobs().Stop(stopCtx)
		cancel()
	})
	var shopIDs []string
	for i := range 4 {
		sh, err := shops.Create(ctx, shop.New{Platform: channel.Taobao, Name: fmt.Sprint("s", i), PlatformShopID: fmt.Sprint("s", i),
			Settings:    shop.Settings{PushStock: true, StockRate: 1000},
			Credentials: channel.Credentials{AppKey: "app", AppSecret: "secret", AccessToken: "tok"}})
		if err != nil {
			t.Fatal(err)
		}
		shopIDs = append(shopIDs, sh.ID)
	}
	slices.Sort(shopIDs)

	var (
		mu      stdsync.Mutex
		want    = map[[2]string]int64{} // (shop, sku) → last quantity committed
		changes int
		retries atomic.Int64
	)
	// change commits qty for sku on shops, holding its transaction open for
	// hold after the hook ran; started, if set, is closed once the hook ran.
	change := func(shops []string, sku string, qty int64, hold time.Duration, started chan<- struct{}) error {
		attempts := 0
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			if attempts++; attempts > 1 {
				retries.Add(1)
			}
			if err := marks.markTx(ctx, tx, e, shops, sku, qty); err != nil {
				return err
			}
			if started != nil && attempts == 1 {
				close(started)
			}
			time.Sleep(hold)
			return nil
		})
		if err == nil {
			mu.Lock()
			changes++
			for _, s := range shops {
				want[[2]string{s, sku}] = qty
			}
			mu.Unlock()
		}
		return err
	}

	// Phase 1: eight goroutines, each with SKUs of its own (a SKU's changes
	// are sequential, as inventory's are), each change on a random set of
	// shops; one in ten stays open longer than a job lingers.
	phase1 := time.Now()
	var wg stdsync.WaitGroup
	errc := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 40 {
				var set []string
				for _, s := range shopIDs {
					if rng.IntN(2) == 0 {
						set = append(set, s)
					}
				}
				if len(set) == 0 {
					set = shopIDs[rng.IntN(len(shopIDs)):][:1]
				}
				hold := time.Duration(rng.IntN(3)) * time.Millisecond
				if rng.IntN(10) == 0 {
					hold = pushLinger + 300*time.Millisecond
				}
				if err := change(set, fmt.Sprintf("sku-%d-%d", g, rng.IntN(3)), int64(g*1000+i), hold, nil); err != nil {
					errc <- err
					return
				}
				time.Sleep(time.Duration(rng.IntN(15)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	t.Logf("phase 1: %s", time.Since(phase1).Round(time.Millisecond))

	// Phase 2, once the shops' jobs have gone quiet: per shop, a quick
	// change queues the next round's job; a slow one reads that round before
	// the quick one commits, so it finds the job queued and queues none,
	// and commits well after the job could have started and stopped
	// lingering. Only the barrier makes that job read the slow change.
	time.Sleep(pushLinger + 200*time.Millisecond)
	var probe stdsync.WaitGroup
	perr := make(chan error, 2*len(shopIDs))
	for i, s := range shopIDs {
		probe.Add(2)
		started := make(chan struct{})
		go func() {
			defer probe.Done()
			if err := change([]string{s}, "probe-quick", int64(100+i), 50*time.Millisecond, started); err != nil {
				perr <- err
			}
		}()
		go func() {
			defer probe.Done()
			<-started
			if err := change([]string{s}, "probe-slow", int64(100+i), 3*pushLinger, nil); err != nil {
				perr <- err
			}
		}()
	}
	probe.Wait()
	close(perr)
	for err := range perr {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	behind := func() (out []string) {
		for k, q := range want {
			if got := plat.quantity(k[0], k[1]); got != q {
				out = append(out, fmt.Sprintf("%s/%s at %d, not %d", k[0], k[1], got, q))
			}
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(behind()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if b := behind(); len(b) > 0 {
		t.Fatalf("%d changes never reached their channel: %v", len(b), b)
	}
	eventually(t, "every push job finished", 20*time.Second, func() bool {
		return countRows(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync_push_stock' AND state <> 'completed'`) == 0
	})
	for _, s := range shopIDs {
		if p, err := marks.PendingPushes(ctx, s, 10); err != nil || len(p) > 0 {
			t.Errorf("shop %s: %d marks pending after every job finished (%v)", s, len(p), err)
		}
	}
	if n := countRows(t, db, `SELECT COUNT(*) FROM sync_push_rounds WHERE lease_owner <> ''`); n != 0 {
		t.Errorf("%d push leases still held", n)
	}
	if n := retries.Load(); n != 0 {
		t.Errorf("%d marking transactions were retried (deadlock?)", n)
	}
	plat.mu.Lock()
	defer plat.mu.Unlock()
	if plat.overlaps != 0 {
		t.Errorf("%d pushes overlapped another push of the same shop", plat.overlaps)
	}
	if n := countRows(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync_push_stock'`); n < int64(len(shopIDs)) {
		t.Errorf("only %d push jobs for %d shops: the rounds did not advance", n, len(shopIDs))
	}
	t.Logf("%d changes on %d (shop, SKU) pairs, %d push calls, %d push jobs", changes, len(want), plat.pushes,
		countRows(t, db, `SELECT COUNT(*) FROM river_job WHERE kind = 'sync_push_stock'`))
}
