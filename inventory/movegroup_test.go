package inventory_test

import (
	"fmt"
	"sync"
	"testing"

	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/store"
	"omnihub/store/storetest"
)

// Concurrent receipts and adjustments share transactions (the move group):
// each still succeeds or fails on its own, the balances equal the ledger,
// and every shop's mark ends at the sellable number of the final stock,
// however the moves were grouped.
func TestConcurrentMovesShareTransactionsAndMarks(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, nil)
		ctx := f.ctx
		for _, p := range []inventory.Policy{{ShopID: "s1", RatioPct: 50}, {ShopID: "s2", RatioPct: 100, SafetyStock: 3}} {
			if _, err := f.svc.SetPolicy(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		skus := []string{"M1", "M2", "M3", "M4"}
		for _, k := range skus {
			f.receive(k, 10)
		}
		const callers, each = 16, 25
		var wg sync.WaitGroup
		var mu sync.Mutex
		applied := map[string]int64{}
		refused := 0
		for c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					sku := skus[(c+i)%len(skus)]
					var delta int64
					var err error
					switch (c + i) % 3 {
					case 0:
						delta = 2
						err = f.svc.Receive(ctx, inventory.DocRef{Type: "test", ID: fmt.Sprintf("r%d-%d", c, i)}, f.wh, sku, delta)
					default:
						// Often more than is on hand: some must be refused.
						delta = -3
						d := delta
						err = f.svc.Adjust(ctx, inventory.Adjustment{Doc: inventory.DocRef{Type: "test", ID: fmt.Sprintf("a%d-%d", c, i)}, WarehouseID: f.wh, SKUID: sku, Delta: &d})
					}
					mu.Lock()
					switch {
					case err == nil:
						applied[sku] += delta
					case errs.Is(err, errs.Conflict):
						refused++
					default:
						t.Errorf("move: %v", err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if refused == 0 {
			t.Fatal("no adjustment was refused; the test does not exercise failing calls in shared transactions")
		}
		f.mustCheck()
		for _, k := range skus {
			want := 10 + applied[k]
			got, err := f.svc.Available(ctx, f.wh, k)
			if err != nil || got != want {
				t.Fatalf("%s available %d (%v), want %d from the successful moves", k, got, err, want)
			}
			for _, p := range []struct {
				shop string
				sell int64
			}{{"s1", want * 50 / 100}, {"s2", max(want-3, 0)}} {
				ms, err := f.svc.PendingPushes(ctx, p.shop, 100)
				if err != nil {
					t.Fatal(err)
				}
				var found bool
				for _, m := range ms {
					if m.SKUID == k {
						found = true
						if m.Sellable != p.sell {
							t.Errorf("shop %s %s mark %d, want %d", p.shop, k, m.Sellable, p.sell)
						}
					}
				}
				if !found {
					t.Errorf("shop %s has no pending mark for %s", p.shop, k)
				}
			}
		}
	})
}
