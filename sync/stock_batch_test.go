package sync

import (
	"context"
	"fmt"
	"slices"
	stdsync "sync"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

func TestStockBatchesHoldWholeItems(t *testing.T) {
	var items []pushItem
	for _, x := range []struct {
		item string
		skus int
	}{{"i-3", 2}, {"i-1", 7}, {"i-2", 1}, {"i-1", 0}} {
		for k := range x.skus {
			items = append(items, pushItem{update: channel.StockUpdate{PlatformItemID: x.item, PlatformSKUID: fmt.Sprintf("%s-s%d", x.item, 9-k)}})
		}
	}
	for _, max := range []int{1, 3, 20} {
		in := slices.Clone(items)
		batches := stockBatches(in, max)
		n := 0
		var last channel.StockUpdate
		for _, b := range batches {
			if len(b) == 0 || len(b) > max {
				t.Fatalf("max %d: batch of %d", max, len(b))
			}
			for _, it := range b {
				if it.update.PlatformItemID != b[0].update.PlatformItemID {
					t.Fatalf("max %d: a batch spans items %s and %s", max, b[0].update.PlatformItemID, it.update.PlatformItemID)
				}
				u := it.update
				if n > 0 && (u.PlatformItemID < last.PlatformItemID || u.PlatformItemID == last.PlatformItemID && u.PlatformSKUID <= last.PlatformSKUID) {
					t.Fatalf("max %d: %v after %v", max, u, last)
				}
				last = u
				n++
			}
		}
		// i-1: 7 SKUs, i-2: 1, i-3: 2.
		want := map[int]int{1: 10, 3: 3 + 1 + 1, 20: 3}[max]
		if n != len(items) || len(batches) != want {
			t.Fatalf("max %d: %d updates in %d batches, want %d in %d", max, n, len(batches), len(items), want)
		}
	}
}

// itemListings binds "sku-N" to platform SKU "p-N" of item "item-<N/4>"
// (four SKUs per item); "sku-dual" is on two items.
type itemListings struct{ fakeListings }

func (itemListings) BindingsForSKU(_ context.Context, _, skuID string) ([]Binding, error) {
	if skuID == "sku-dual" {
		return []Binding{{SKUID: skuID, PlatformItemID: "item-0", PlatformSKUID: "p-dual-0"}, {SKUID: skuID, PlatformItemID: "item-9", PlatformSKUID: "p-dual-9"}}, nil
	}
	var n int
	fmt.Sscanf(skuID, "sku-%d", &n)
	return []Binding{{SKUID: skuID, PlatformItemID: fmt.Sprintf("item-%d", n/4), PlatformSKUID: fmt.Sprintf("p-%02d", n)}}, nil
}

func (l itemListings) BindingsForSKUs(ctx context.Context, shopID string, skuIDs []string) (map[string][]Binding, error) {
	return bindingsEach(ctx, shopID, skuIDs, l.BindingsForSKU)
}

// batchPusher records the batches it is given and fails chosen SKUs.
type batchPusher struct {
	fakePlatform
	max     int
	mu      stdsync.Mutex
	batches [][]channel.StockUpdate
	fail    map[string]error // platform SKU → its result's error
}

func (p *batchPusher) MaxStockBatch() int { return p.max }

func (p *batchPusher) PushStock(_ context.Context, _ channel.Session, ups []channel.StockUpdate) ([]channel.StockResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches = append(p.batches, slices.Clone(ups))
	out := make([]channel.StockResult, len(ups))
	for i, u := range ups {
		out[i] = channel.StockResult{Update: u, Err: p.fail[u.PlatformSKUID]}
	}
	return out, nil
}

func TestPushBatchesByItemAndAcksPerSKU(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "batches").ID
		stock := newFakeStock()
		plat := &batchPusher{max: 3, fail: map[string]error{
			"p-05": &channel.APIError{Platform: "taobao", Code: "15", SubCode: "isv.item-sku-not-exist", Class: channel.ClassPermanent},
		}}
		// An engine of its own, not registered with the queue: the test
		// drives one push cycle by hand.
		e := New(Config{}, Deps{DB: db, Shops: r.shops, Stock: stock, Listings: itemListings{}, Orders: r.orders,
			Connectors: func(channel.Platform, string) (channel.Connector, error) { return plat, nil }})
		mark := func(sku string, qty int64) {
			k := [2]string{sh, sku}
			m := stock.marks[k]
			if m == nil {
				m = &PushMark{SKUID: sku}
				stock.marks[k] = m
			}
			m.Version++
			m.Sellable, m.MarkedAt = qty, time.Now()
		}
		// 10 SKUs over items 0, 1, 2 (4, 4, 2 SKUs), and one on items 0 and 9.
		for _, n := range []int{9, 2, 7, 0, 5, 1, 8, 3, 6, 4} {
			mark(fmt.Sprintf("sku-%d", n), int64(n))
		}
		mark("sku-dual", 50)
		if _, _, err := e.pushPending(ctx, sh, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		perItem := map[string]int{}
		for _, b := range plat.batches {
			if len(b) > plat.max {
				t.Fatalf("batch of %d, max %d", len(b), plat.max)
			}
			for _, u := range b {
				if u.PlatformItemID != b[0].PlatformItemID {
					t.Fatalf("a batch spans items: %v", b)
				}
				perItem[u.PlatformItemID]++
			}
		}
		// item-0: 4 + dual = 5 → 3+2; item-1: 4 → 3+1; item-2: 2; item-9: 1.
		if len(plat.batches) != 6 || perItem["item-0"] != 5 || perItem["item-9"] != 1 {
			t.Fatalf("%d batches, per item %v", len(plat.batches), perItem)
		}
		// Every SKU is acknowledged, the refused one too (permanent: handled
		// and logged), the dual one once both listings were handled.
		for k, m := range stock.marks {
			if stock.acked[k] != m.Version {
				t.Errorf("%s not acknowledged", k[1])
			}
		}
		var failed int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM sync_push_log WHERE shop_id = $1 AND NOT ok`, sh).Scan(&failed); err != nil || failed != 1 {
			t.Fatalf("%d failed pushes logged (%v), want 1", failed, err)
		}

		// A retryable failure in item-1 stops the cycle: the SKUs pushed
		// before it are acknowledged, it and the rest are not.
		plat.batches = nil
		plat.fail = map[string]error{"p-06": &channel.APIError{Platform: "taobao", Code: "7", Class: channel.ClassRateLimited}}
		for n := range 10 {
			mark(fmt.Sprintf("sku-%d", n), int64(100+n))
		}
		if _, _, err := e.pushPending(ctx, sh, time.Now().Add(time.Minute)); err == nil {
			t.Fatal("a rate-limited push did not stop the cycle")
		}
		for n := range 10 {
			k := [2]string{sh, fmt.Sprintf("sku-%d", n)}
			// item-0 (sku-0..3) comes first; in item-1, p-04 and p-05
			// precede p-06 in its batch.
			if want := n < 6; (stock.acked[k] == stock.marks[k].Version) != want {
				t.Errorf("sku-%d acknowledged: %v, want %v", n, !want, want)
			}
		}
	})
}

// Under a steady stream of changes a shop's push cycles are spaced by
// pushInterval: the calls follow the cycles, not the changes, and every
// change still reaches the channel.
func TestBusyShopCyclesAreSpaced(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "paced").ID
		stock := newFakeStock()
		plat := &batchPusher{max: 20}
		e := New(Config{}, Deps{DB: db, Shops: r.shops, Stock: stock, Listings: itemListings{}, Orders: r.orders,
			Connectors: func(channel.Platform, string) (channel.Connector, error) { return plat, nil }})
		// One item (sku-0..3): every cycle is one call however many
		// changes it carries.
		const run = 1500 * time.Millisecond
		done := make(chan struct{})
		var changes int
		go func() {
			defer close(done)
			for start := time.Now(); time.Since(start) < run; changes++ {
				stock.set(ctx, t, db, e, sh, fmt.Sprintf("sku-%d", changes%4), int64(changes))
				time.Sleep(2 * time.Millisecond)
			}
		}()
		if err := e.pushWhileBusy(ctx, sh, time.Now().Add(run+2*time.Second)); err != nil {
			t.Fatal(err)
		}
		<-done
		if _, _, err := e.pushPending(ctx, sh, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		plat.mu.Lock()
		calls := len(plat.batches)
		last := map[string]int64{}
		for _, b := range plat.batches {
			for _, u := range b {
				last[u.PlatformSKUID] = u.Quantity
			}
		}
		plat.mu.Unlock()
		// At most one cycle per interval over the run, plus the first, the
		// one after the stream stops and the final drain.
		if max := int(run/pushInterval) + 3; calls > max {
			t.Errorf("%d calls for %d changes in %s, want at most %d (one per %s)", calls, changes, run, max, pushInterval)
		}
		stock.mu.Lock()
		defer stock.mu.Unlock()
		for k, want := range stock.truth {
			var n int
			fmt.Sscanf(k[1], "sku-%d", &n)
			if got := last[fmt.Sprintf("p-%02d", n)]; got != want {
				t.Errorf("%s: channel got %d, want the latest %d", k[1], got, want)
			}
		}
		if changes < 50 {
			t.Fatalf("only %d changes were made; the test proves nothing", changes)
		}
	})
}
