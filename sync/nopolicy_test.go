package sync

import (
	"context"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// noPolicyStock is a StockSource for a shop whose allocation policy is not
// set yet.
type noPolicyStock struct{ *fakeStock }

func (noPolicyStock) Sellable(_ context.Context, shopID, _ string) (int64, error) {
	return 0, errs.E(errs.NotFound, "shop %s has no allocation policy", shopID)
}

// A shop connected before its allocation policy is set is still
// reconciled: its missing orders come in, the stock comparison is skipped
// with a reason, and the run does not fail (a failing run is retried into
// a dead letter).
func TestReconcileWithoutPolicySkipsStockOnly(t *testing.T) {
	storetest.ForEachEngineWithJobs(t, jobCfg(), func(t *testing.T, db store.DB) {
		ctx := context.Background()
		r := newRig(t, db, Config{})
		sh := r.addShop(t, "nopolicy").ID
		e := New(Config{}, Deps{DB: db, Shops: r.shops, Stock: noPolicyStock{r.stock}, Listings: fakeListings{}, Orders: r.orders,
			Connectors: func(channel.Platform, string) (channel.Connector, error) { return r.plat, nil }})
		r.plat.mu.Lock()
		r.plat.orders = []channel.Order{{PlatformOrderID: "NP1", ModifiedAt: time.Now().UTC().Add(-time.Hour)}}
		r.plat.qty["psku-4"] = 7
		r.plat.mu.Unlock()
		rep, err := e.Reconcile(ctx, sh)
		if err != nil {
			t.Fatalf("reconcile of a shop without policy failed: %v", err)
		}
		if rep.OrdersRepaired != 1 {
			t.Errorf("orders repaired %d, want 1", rep.OrdersRepaired)
		}
		if rep.StockSkipped == "" || len(rep.StockDrift) != 0 {
			t.Errorf("stock_skipped %q, drift %v: want the comparison skipped with its reason", rep.StockSkipped, rep.StockDrift)
		}
		r.plat.mu.Lock()
		got := r.plat.qty["psku-4"]
		r.plat.mu.Unlock()
		if got != 7 {
			t.Errorf("channel quantity changed to %d with no policy to compute it from", got)
		}
	})
}
