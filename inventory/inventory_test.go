package inventory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/sheet"
	"omnihub/store"
	"omnihub/store/storetest"
)

// fakeBundles is a BundleResolver over a fixed map.
type fakeBundles map[string][]inventory.Component

func (f fakeBundles) ComponentsTx(_ context.Context, _ store.Tx, sku string) ([]inventory.Component, bool, error) {
	c, ok := f[sku]
	return c, ok, nil
}

func (f fakeBundles) BundlesContainingTx(_ context.Context, _ store.Tx, sku string) ([]string, error) {
	var out []string
	for b, cs := range f {
		for _, c := range cs {
			if c.SKUID == sku {
				out = append(out, b)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

var whSeq atomic.Int64

type fixture struct {
	t   *testing.T
	db  store.DB
	svc *inventory.Service
	wh  string
	ctx context.Context

	mu     sync.Mutex
	marked [][]string
}

func newFixture(t *testing.T, db store.DB, bundles fakeBundles) *fixture {
	f := &fixture{t: t, db: db, ctx: context.Background()}
	opts := inventory.Options{OnMarked: func(ctx context.Context, tx store.Tx, shops []string) error {
		tx.AfterCommit(func() {
			f.mu.Lock()
			f.marked = append(f.marked, shops)
			f.mu.Unlock()
		})
		return nil
	}}
	if bundles != nil {
		opts.Bundles = bundles
	}
	f.svc = inventory.New(db, opts)
	w, err := f.svc.CreateWarehouse(f.ctx, fmt.Sprintf("WH1-%d", whSeq.Add(1)), "Main")
	if err != nil {
		t.Fatal(err)
	}
	f.wh = w.ID
	return f
}

func (f *fixture) receive(sku string, qty int64) {
	f.t.Helper()
	if err := f.svc.Receive(f.ctx, inventory.DocRef{Type: "test", ID: "rcv"}, f.wh, sku, qty); err != nil {
		f.t.Fatalf("receive %s: %v", sku, err)
	}
}

func (f *fixture) balance(wh, sku string) inventory.Balance {
	f.t.Helper()
	b, err := f.svc.Balance(f.ctx, wh, sku)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) mustCheck() {
	f.t.Helper()
	rep, err := f.svc.Check(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if !rep.OK() {
		f.t.Fatalf("check: %v", rep.Err())
	}
}

func line(docID string, ln int, wh, sku string, qty int64) inventory.ReserveLine {
	return inventory.ReserveLine{Doc: inventory.DocRef{Type: "order", ID: docID, Line: ln}, WarehouseID: wh, SKUID: sku, Qty: qty}
}

func (f *fixture) reserve(lines ...inventory.ReserveLine) error {
	return f.svc.Reserve(f.ctx, lines)
}

// hammer runs g goroutines × n attempts of reserve and counts successes.
func hammer(t *testing.T, g, n int, attempt func(gi, i int) (units map[string]int64, err error)) map[string]int64 {
	t.Helper()
	var mu sync.Mutex
	got := map[string]int64{}
	var wg sync.WaitGroup
	var unexpected atomic.Value
	for gi := 0; gi < g; gi++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				units, err := attempt(gi, i)
				if err != nil {
					if !errs.Is(err, errs.Conflict) || errs.FieldsOf(err)["sku_id"] == "" {
						unexpected.Store(err)
					}
					continue
				}
				mu.Lock()
				for k, v := range units {
					got[k] += v
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if e := unexpected.Load(); e != nil {
		t.Fatalf("unexpected error: %v", e)
	}
	return got
}

func TestConcurrentReserveNeverOversells(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		for _, mode := range []string{"reserver", "tx-per-request"} {
			t.Run(mode, func(t *testing.T) {
				f := newFixture(t, db, nil)
				sku := "hot-" + mode
				f.receive(sku, 1000)
				r := f.svc.NewReserver(inventory.ReserverOptions{})
				defer r.Close()
				// The group-commit path takes the full 200 × 50; one
				// transaction per request proves the same guard with fewer.
				g, n := 200, 50
				if mode != "reserver" {
					g, n = 50, 40
				}
				got := hammer(t, g, n, func(gi, i int) (map[string]int64, error) {
					l := []inventory.ReserveLine{line(fmt.Sprintf("%s-%d-%d", mode, gi, i), 1, f.wh, sku, 1)}
					var err error
					if mode == "reserver" {
						err = r.Reserve(f.ctx, l)
					} else {
						err = f.svc.Reserve(f.ctx, l)
					}
					return map[string]int64{sku: 1}, err
				})
				if got[sku] != 1000 {
					t.Fatalf("%d units reserved successfully, want exactly 1000", got[sku])
				}
				b := f.balance(f.wh, sku)
				if b.Reserved != 1000 || b.OnHand != 1000 || b.Available != 0 {
					t.Fatalf("balance %+v", b)
				}
				f.mustCheck()
			})
		}
	})
}

func TestConcurrentBundleAndComponents(t *testing.T) {
	bundles := fakeBundles{"KIT": {{SKUID: "A", Qty: 2}, {SKUID: "B", Qty: 1}}}
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, bundles)
		f.receive("A", 1000)
		f.receive("B", 1000)
		r := f.svc.NewReserver(inventory.ReserverOptions{})
		defer r.Close()
		got := hammer(t, 200, 50, func(gi, i int) (map[string]int64, error) {
			doc := fmt.Sprintf("mix-%d-%d", gi, i)
			var l []inventory.ReserveLine
			var units map[string]int64
			switch rand.IntN(4) {
			case 0:
				l, units = []inventory.ReserveLine{line(doc, 1, f.wh, "KIT", 1)}, map[string]int64{"A": 2, "B": 1}
			case 1:
				l, units = []inventory.ReserveLine{line(doc, 1, f.wh, "A", 1)}, map[string]int64{"A": 1}
			case 2:
				l, units = []inventory.ReserveLine{line(doc, 1, f.wh, "B", 1)}, map[string]int64{"B": 1}
			default: // an order with a kit and a loose component
				l, units = []inventory.ReserveLine{line(doc, 1, f.wh, "KIT", 1), line(doc, 2, f.wh, "B", 2)}, map[string]int64{"A": 2, "B": 3}
			}
			if i%5 != 0 {
				return units, r.Reserve(f.ctx, l)
			}
			return units, f.svc.Reserve(f.ctx, l)
		})
		for _, sku := range []string{"A", "B"} {
			b := f.balance(f.wh, sku)
			if b.Reserved != got[sku] || b.Reserved > 1000 {
				t.Fatalf("%s: reserved %d, successful requests reserved %d (on hand %d)", sku, b.Reserved, got[sku], b.OnHand)
			}
		}
		// 10,000 attempts of at least one unit against 2×1000: stock runs out.
		a, b := f.balance(f.wh, "A"), f.balance(f.wh, "B")
		if a.Available > 1 && b.Available > 0 {
			t.Fatalf("stock not exhausted: A %+v B %+v", a, b)
		}
		f.mustCheck()
	})
}

func TestReserveIdempotentAndShortage(t *testing.T) {
	bundles := fakeBundles{"KIT": {{SKUID: "A", Qty: 2}, {SKUID: "B", Qty: 1}}}
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, bundles)
		f.receive("A", 10)
		f.receive("B", 3)
		if err := f.reserve(line("o1", 1, f.wh, "A", 4)); err != nil {
			t.Fatal(err)
		}
		if err := f.reserve(line("o1", 1, f.wh, "A", 4)); err != nil {
			t.Fatalf("repeat: %v", err)
		}
		if b := f.balance(f.wh, "A"); b.Reserved != 4 {
			t.Fatalf("after repeat reserved %d, want 4", b.Reserved)
		}
		// Same line, different quantity: conflict, nothing changes.
		if err := f.reserve(line("o1", 1, f.wh, "A", 5)); !errs.Is(err, errs.Conflict) {
			t.Fatalf("changed repeat: %v", err)
		}
		// All or nothing: line 2 fits, line 3 does not.
		err := f.reserve(line("o2", 1, f.wh, "A", 2), line("o2", 2, f.wh, "KIT", 4))
		if !errs.Is(err, errs.Conflict) || errs.FieldsOf(err)["sku_id"] == "" {
			t.Fatalf("shortage: %v", err)
		}
		if b := f.balance(f.wh, "A"); b.Reserved != 4 {
			t.Fatalf("partial reservation leaked: %+v", b)
		}
		// A bundle reserves its components.
		if err := f.reserve(line("o3", 1, f.wh, "KIT", 3)); err != nil {
			t.Fatal(err)
		}
		if a, b := f.balance(f.wh, "A"), f.balance(f.wh, "B"); a.Reserved != 10 || b.Reserved != 3 {
			t.Fatalf("kit reservation: A %+v B %+v", a, b)
		}
		rs, err := f.svc.Reservations(f.ctx, "order", "o3")
		if err != nil || len(rs) != 2 || rs[0].LineSKUID != "KIT" {
			t.Fatalf("reservations of o3: %+v %v", rs, err)
		}
		// Bad input is invalid, not a conflict.
		if err := f.reserve(line("o4", 1, f.wh, "A", 0)); !errs.Is(err, errs.Invalid) {
			t.Fatalf("qty 0: %v", err)
		}
		f.mustCheck()
	})
}

func TestReserverAnswersEachRequest(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, nil)
		f.receive("S", 10)
		r := f.svc.NewReserver(inventory.ReserverOptions{})
		defer r.Close()
		var wg sync.WaitGroup
		res := make([]error, 8)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				qty := int64(1)
				if i == 3 {
					qty = 100 // cannot fit: must fail alone
				}
				res[i] = r.Reserve(f.ctx, []inventory.ReserveLine{line(fmt.Sprintf("r%d", i), 1, f.wh, "S", qty)})
			}()
		}
		wg.Wait()
		// The same doc line twice in flight: one reservation.
		var wg2 sync.WaitGroup
		for range 4 {
			wg2.Add(1)
			go func() {
				defer wg2.Done()
				_ = r.Reserve(f.ctx, []inventory.ReserveLine{line("dup", 1, f.wh, "S", 1)})
			}()
		}
		wg2.Wait()
		ok := 0
		for i, err := range res {
			if i == 3 {
				if !errs.Is(err, errs.Conflict) {
					t.Fatalf("oversized request: %v", err)
				}
				continue
			}
			if err == nil {
				ok++
			}
		}
		b := f.balance(f.wh, "S")
		if ok != 7 || b.Reserved != int64(ok)+1 {
			t.Fatalf("reserved %d with %d successes (+1 dup line)", b.Reserved, ok)
		}
		f.mustCheck()
	})
}

func TestReleaseShipRestockTransferStocktake(t *testing.T) {
	bundles := fakeBundles{"KIT": {{SKUID: "A", Qty: 2}, {SKUID: "B", Qty: 1}}}
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, bundles)
		ctx := f.ctx
		f.receive("A", 20)
		f.receive("B", 10)
		in := func(fn func(tx store.Tx) error) error {
			return db.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return fn(tx) })
		}
		if err := f.reserve(line("o1", 1, f.wh, "A", 3), line("o1", 2, f.wh, "KIT", 2)); err != nil {
			t.Fatal(err)
		}
		// Partial release of the kit line: 1 kit = 2 A + 1 B.
		if err := in(func(tx store.Tx) error {
			return f.svc.ReleaseLineTx(ctx, tx, inventory.DocRef{Type: "order", ID: "o1", Line: 2}, 1)
		}); err != nil {
			t.Fatal(err)
		}
		if a, b := f.balance(f.wh, "A"), f.balance(f.wh, "B"); a.Reserved != 5 || b.Reserved != 1 {
			t.Fatalf("after line release: A %+v B %+v", a, b)
		}
		// Ship consumes what is left.
		for range 2 {
			if err := in(func(tx store.Tx) error { return f.svc.ShipTx(ctx, tx, "order", "o1") }); err != nil {
				t.Fatal(err)
			}
		}
		if a, b := f.balance(f.wh, "A"), f.balance(f.wh, "B"); a.Reserved != 0 || a.OnHand != 15 || b.OnHand != 9 || b.Reserved != 0 {
			t.Fatalf("after ship: A %+v B %+v", a, b)
		}
		rs, _ := f.svc.Reservations(ctx, "order", "o1")
		for _, r := range rs {
			if r.Status != inventory.StatusShipped || r.OpenQty != 0 {
				t.Fatalf("reservation after ship: %+v", r)
			}
		}
		// Release of another order, twice.
		if err := f.reserve(line("o2", 1, f.wh, "A", 4)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := in(func(tx store.Tx) error { return f.svc.ReleaseTx(ctx, tx, "order", "o2") }); err != nil {
				t.Fatal(err)
			}
		}
		if a := f.balance(f.wh, "A"); a.Reserved != 0 || a.OnHand != 15 {
			t.Fatalf("after release: %+v", a)
		}
		// Restock: a returned kit comes back good, once.
		for range 2 {
			if err := in(func(tx store.Tx) error {
				return f.svc.RestockTx(ctx, tx, inventory.DocRef{Type: "return", ID: "r1", Line: 1}, f.wh, "KIT", 1, false)
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := in(func(tx store.Tx) error {
			return f.svc.RestockTx(ctx, tx, inventory.DocRef{Type: "return", ID: "r1", Line: 2}, f.wh, "B", 2, true)
		}); err != nil {
			t.Fatal(err)
		}
		if a, b := f.balance(f.wh, "A"), f.balance(f.wh, "B"); a.OnHand != 17 || b.OnHand != 10 || b.Defective != 2 {
			t.Fatalf("after restock: A %+v B %+v", a, b)
		}
		// Transfer 5 A to a second warehouse: out, in transit, in.
		w2, err := f.svc.CreateWarehouse(ctx, "WH2", "Second")
		if err != nil {
			t.Fatal(err)
		}
		tr, err := f.svc.TransferOut(ctx, f.wh, "WH2", []inventory.TransferLine{{SKUID: "A", Qty: 5}}, "rebalance")
		if err != nil {
			t.Fatal(err)
		}
		if a1, a2 := f.balance(f.wh, "A"), f.balance(w2.ID, "A"); a1.OnHand != 12 || a2.InTransit != 5 || a2.OnHand != 0 {
			t.Fatalf("in transit: %+v %+v", a1, a2)
		}
		if _, err := f.svc.TransferOut(ctx, f.wh, "WH2", []inventory.TransferLine{{SKUID: "A", Qty: 500}}, ""); !errs.Is(err, errs.Conflict) {
			t.Fatalf("transfer of more than on hand: %v", err)
		}
		if err := f.svc.TransferIn(ctx, tr.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.TransferIn(ctx, tr.ID); !errs.Is(err, errs.Conflict) {
			t.Fatalf("second receipt: %v", err)
		}
		if a2 := f.balance(w2.ID, "A"); a2.InTransit != 0 || a2.OnHand != 5 {
			t.Fatalf("after transfer in: %+v", a2)
		}
		// Stocktake: count 10 A in WH1 (12 on hand), then adjust by delta.
		ten, minus := int64(10), int64(-3)
		if err := f.svc.Adjust(ctx, inventory.Adjustment{WarehouseID: f.wh, SKUID: "A", Counted: &ten}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Adjust(ctx, inventory.Adjustment{WarehouseID: f.wh, SKUID: "A", Delta: &minus}); err != nil {
			t.Fatal(err)
		}
		if a := f.balance(f.wh, "A"); a.OnHand != 7 {
			t.Fatalf("after stocktake and adjust: %+v", a)
		}
		// A count below what is reserved is refused.
		if err := f.reserve(line("o3", 1, f.wh, "A", 6)); err != nil {
			t.Fatal(err)
		}
		five := int64(5)
		if err := f.svc.Adjust(ctx, inventory.Adjustment{WarehouseID: f.wh, SKUID: "A", Counted: &five}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("count below reserved: %v", err)
		}
		led, _, err := f.svc.Ledger(ctx, inventory.LedgerQuery{WarehouseID: f.wh, SKUID: "A"})
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]int{}
		for _, e := range led {
			reasons[e.Reason]++
		}
		for _, want := range []string{"receive", "reserve", "release", "ship", "restock_good", "transfer_out", "stocktake", "adjust"} {
			if reasons[want] == 0 {
				t.Fatalf("ledger lacks %s rows: %v", want, reasons)
			}
		}
		f.mustCheck()
	})
}

func TestPushMarksFollowSellable(t *testing.T) {
	bundles := fakeBundles{"KIT": {{SKUID: "A", Qty: 2}, {SKUID: "B", Qty: 1}}}
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, bundles)
		ctx := f.ctx
		if _, err := f.svc.SetPolicy(ctx, inventory.Policy{ShopID: "shop1", RatioPct: 50, SafetyStock: 10}); err != nil {
			t.Fatal(err)
		}
		cap7 := int64(7)
		if _, err := f.svc.SetPolicy(ctx, inventory.Policy{ShopID: "shop2", RatioPct: 100, Cap: &cap7}); err != nil {
			t.Fatal(err)
		}
		f.receive("A", 110) // shop1: (110-10)*50% = 50; shop2: min(7, 110) = 7
		f.receive("B", 100)
		mark := func(shop, sku string) inventory.PushMark {
			t.Helper()
			ms, err := f.svc.PendingPushes(ctx, shop, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				if m.SKUID == sku {
					return m
				}
			}
			return inventory.PushMark{}
		}
		m := mark("shop1", "A")
		if m.Sellable != 50 || m.Version == 0 {
			t.Fatalf("shop1 A mark %+v", m)
		}
		if k := mark("shop1", "KIT"); k.Sellable != 25 { // min((110-10)*.5/2, (100-10)*.5/1) = min(25, 45)
			t.Fatalf("shop1 KIT mark %+v", k)
		}
		if m2 := mark("shop2", "A"); m2.Sellable != 7 {
			t.Fatalf("shop2 A mark %+v", m2)
		}
		// Reserving 1 A: shop1 (109-10)/2 = 49 moves; shop2 stays 7.
		s2 := mark("shop2", "A")
		if err := f.reserve(line("o1", 1, f.wh, "A", 1)); err != nil {
			t.Fatal(err)
		}
		if m := mark("shop1", "A"); m.Sellable != 49 {
			t.Fatalf("after reserve shop1 A %+v", m)
		}
		if m := mark("shop2", "A"); m.Version != s2.Version {
			t.Fatalf("shop2 mark moved although sellable stayed 7: %+v -> %+v", s2, m)
		}
		// Ack, then a change that keeps 49: (108-10)/2 = 49 → no new mark.
		m = mark("shop1", "A")
		if err := f.svc.AckPush(ctx, "shop1", "A", m.Version); err != nil {
			t.Fatal(err)
		}
		if err := f.reserve(line("o2", 1, f.wh, "A", 1)); err != nil {
			t.Fatal(err)
		}
		if m := mark("shop1", "A"); m.Version != 0 {
			t.Fatalf("mark pending although sellable did not move: %+v", m)
		}
		if v, err := f.svc.Sellable(ctx, "shop1", "A"); err != nil || v != 49 {
			t.Fatalf("Sellable = %d, %v", v, err)
		}
		// A per-SKU override replaces the ratio.
		full := int64(100)
		if _, err := f.svc.SetOverride(ctx, inventory.Override{ShopID: "shop1", SKUID: "A", RatioPct: &full}); err != nil {
			t.Fatal(err)
		}
		if m := mark("shop1", "A"); m.Sellable != 98 {
			t.Fatalf("after override %+v", m)
		}
		// OnMarked saw the shops.
		f.mu.Lock()
		n := len(f.marked)
		f.mu.Unlock()
		if n == 0 {
			t.Fatal("OnMarked never called")
		}
		if err := f.svc.AckPush(ctx, "shop1", "A", 1_000_000); !errs.Is(err, errs.Invalid) {
			t.Fatalf("ack of a future version: %v", err)
		}
	})
}

func TestCheckFindsTampering(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, nil)
		f.receive("A", 10)
		if err := f.reserve(line("o1", 1, f.wh, "A", 4)); err != nil {
			t.Fatal(err)
		}
		f.mustCheck()
		if _, err := db.Exec(f.ctx, `UPDATE inv_balances SET on_hand = on_hand + 5 WHERE sku_id = 'A'`); err != nil {
			t.Fatal(err)
		}
		rep, err := f.svc.Check(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, v := range rep.Violations {
			kinds[v.Kind] = true
		}
		if !kinds["ledger_mismatch"] || !kinds["ledger_result_mismatch"] || !errs.Is(rep.Err(), errs.Conflict) {
			t.Fatalf("tampered on hand not reported: %+v", rep)
		}
		if _, err := db.Exec(f.ctx, `UPDATE inv_balances SET on_hand = 3, reserved = 4 WHERE sku_id = 'A'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(f.ctx, `UPDATE inv_reservations SET open_qty = 1 WHERE doc_id = 'o1'`); err != nil {
			t.Fatal(err)
		}
		rep, _ = f.svc.Check(f.ctx)
		kinds = map[string]bool{}
		for _, v := range rep.Violations {
			kinds[v.Kind+"/"+v.Bucket] = true
		}
		if !kinds["negative/available"] || !kinds["reserved_mismatch/reserved"] {
			t.Fatalf("oversell and reservation drift not reported: %+v", rep.Violations)
		}
	})
}

func TestStockSheetImportExport(t *testing.T) {
	bundles := fakeBundles{"KIT": {{SKUID: "A", Qty: 2}}}
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		f := newFixture(t, db, bundles)
		ctx := f.ctx
		w, _ := f.svc.Warehouse(ctx, f.wh)
		f.receive("A", 3)
		bad := "warehouse,sku_id,on_hand\n" + w.Code + ",A,10\nNOPE,B,1\n" + w.Code + ",C,-1\n" + w.Code + ",A,4\n"
		_, err := f.svc.ImportStock(ctx, strings.NewReader(bad), sheet.CSV, "t1")
		rep, ok := sheet.ReportOf(err)
		if !ok || !errs.Is(err, errs.Invalid) {
			t.Fatalf("bad sheet: %v", err)
		}
		if got := rep.Rows(); len(got) != 3 || got[0] != 3 || got[1] != 4 || got[2] != 5 {
			t.Fatalf("bad rows reported %v: %v", got, rep.Errors)
		}
		if b := f.balance(f.wh, "A"); b.OnHand != 3 {
			t.Fatalf("rejected sheet wrote stock: %+v", b)
		}
		if _, err := f.svc.ImportStock(ctx, strings.NewReader("warehouse,sku_id,on_hand\n"+w.Code+",KIT,1\n"), sheet.CSV, "t2"); err == nil {
			t.Fatal("stock of a bundle imported")
		}
		res, err := f.svc.ImportStock(ctx, strings.NewReader("仓库,sku_id,数量\n"+w.Code+",A,10\n"+w.Code+",B,7\n"), sheet.CSV, "t3")
		if err != nil || res.Rows != 2 || res.Changed != 2 {
			t.Fatalf("import: %+v %v", res, err)
		}
		if a, b := f.balance(f.wh, "A"), f.balance(f.wh, "B"); a.OnHand != 10 || b.OnHand != 7 {
			t.Fatalf("after import A %+v B %+v", a, b)
		}
		if err := f.svc.Receive(ctx, inventory.DocRef{Type: "t", ID: "x"}, f.wh, "KIT", 1); !errs.Is(err, errs.Invalid) {
			t.Fatalf("receiving a bundle: %v", err)
		}
		var buf strings.Builder
		n, err := f.svc.ExportStock(ctx, &buf, sheet.CSV)
		if err != nil || n != 2 || !strings.Contains(buf.String(), w.Code+",A,,10,0,10,0,0") {
			t.Fatalf("export %d %v:\n%s", n, err, buf.String())
		}
		f.mustCheck()
	})
}
