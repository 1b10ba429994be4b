package order

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

// newRoutingEnv is an env without DefaultWarehouse whose fake stock is also
// the warehouse source of default routing; no warehouse has stock yet.
func newRoutingEnv(t *testing.T, db store.DB) *env {
	t.Helper()
	e := newEnv(t, db)
	e.stock.avail = map[string]int64{}
	e.svc = New(db, Options{Stock: e.stock, Resolver: e.res, Warehouses: e.stock, Now: func() time.Time { return e.now }})
	return e
}

func lineOf(sku string, qty int64) channel.OrderLine {
	return channel.OrderLine{PlatformLineID: fmt.Sprintf("%s-%d", sku, qty), PlatformSKUID: "PS-" + sku, OuterSKUID: sku, Quantity: qty, Price: 100, Paid: 100 * qty}
}

func withLines(ls ...channel.OrderLine) func(*channel.Order) {
	return func(o *channel.Order) {
		for i := range ls {
			ls[i].PlatformLineID = fmt.Sprintf("%s-%d", o.PlatformOrderID, i+1)
		}
		o.Lines = ls
	}
}

// Without routing rules and DefaultWarehouse an order goes to an active
// warehouse that can ship it: the most preferred that has every line, else
// a split, else held out_of_stock; no_warehouse only when there is none.
func TestDefaultRouting(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newRoutingEnv(t, db)
		ctx := context.Background()

		// No active warehouse at all.
		r := e.ingest(t, "shop", mk("N1", t0))
		held := e.order(t, r.OrderID)
		if held.Status != Held || !hasReason(held, ReasonNoRoute) {
			t.Fatalf("no warehouse: %s %v", held.Status, held.HoldReasons)
		}

		// One warehouse: everything goes there; the held order replays.
		e.stock.whs = []string{"WH1"}
		e.stock.set("WH1", "SKU-A", 100)
		if _, err := e.svc.Replay(ctx, held.ID, "ops"); err != nil {
			t.Fatal(err)
		}
		if o := e.order(t, held.ID); o.Status != Approved || o.WarehouseID != "WH1" || len(e.stock.reservedOf(o.ID)) != 1 {
			t.Fatalf("replayed with one warehouse: %s %q %v", o.Status, o.WarehouseID, e.stock.reservedOf(o.ID))
		}

		// Two warehouses: the first that has every line, by preference.
		e.stock.whs = []string{"WH1", "WH2"}
		e.stock.set("WH2", "SKU-B", 10)
		r = e.ingest(t, "shop", mk("S1", t0, withLines(lineOf("SKU-B", 1))))
		if o := e.order(t, r.OrderID); o.Status != Approved || o.WarehouseID != "WH2" || len(o.Parts) != 1 {
			t.Fatalf("only WH2 has B: %s %q %+v", o.Status, o.WarehouseID, o.Parts)
		}
		// Lines of one SKU count together: WH1 has 3 D, each line wants 2.
		e.stock.set("WH1", "SKU-D", 3)
		e.stock.set("WH2", "SKU-D", 4)
		r = e.ingest(t, "shop", mk("S2", t0, withLines(lineOf("SKU-D", 2), lineOf("SKU-D", 2))))
		if o := e.order(t, r.OrderID); o.Status != Approved || o.WarehouseID != "WH2" || len(o.Parts) != 1 {
			t.Fatalf("two lines of D: %s %q %+v", o.Status, o.WarehouseID, o.Parts)
		}
		// No single warehouse has both lines: split.
		e.stock.set("WH1", "SKU-C", 5)
		r = e.ingest(t, "shop", mk("S3", t0, withLines(lineOf("SKU-B", 1), lineOf("SKU-C", 1))))
		o := e.order(t, r.OrderID)
		if o.Status != Approved || len(o.Parts) != 2 || o.Parts[0].WarehouseID != "WH2" || o.Parts[1].WarehouseID != "WH1" {
			t.Fatalf("split: %s %+v", o.Status, o.Parts)
		}
		// Nowhere: held out_of_stock, not no_warehouse.
		r = e.ingest(t, "shop", mk("S4", t0, withLines(lineOf("SKU-E", 1))))
		if o := e.order(t, r.OrderID); o.Status != Held || !hasReason(o, ReasonOutOfStock) {
			t.Fatalf("no stock anywhere: %s %v", o.Status, o.HoldReasons)
		}

		// A batch counts what its earlier orders take: 3 A left in WH1
		// after the replayed order (99 → set to 3), 5 orders of one A.
		e.stock.set("WH1", "SKU-A", 3)
		e.stock.set("WH2", "SKU-A", 10)
		calls := e.stock.reserveCalls()
		var batch []channel.Order
		for i := range 5 {
			batch = append(batch, mk(fmt.Sprintf("B%d", i), t0))
		}
		res, err := e.svc.IngestBatch(ctx, "shop", batch)
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, x := range res {
			o := e.order(t, x.OrderID)
			if o.Status != Approved {
				t.Fatalf("batch order %s: %s %v", o.PlatformOrderID, o.Status, o.HoldReasons)
			}
			per[o.WarehouseID]++
		}
		if per["WH1"] != 3 || per["WH2"] != 2 {
			t.Fatalf("batch by warehouse %v, want WH1 3 and WH2 2", per)
		}
		if n := e.stock.reserveCalls() - calls; n != 1 {
			t.Fatalf("%d reservation calls for the batch, want 1 (no redo order by order)", n)
		}

		// Rules come first: a matching rule's warehouse is used even
		// without stock there.
		if _, err := e.svc.SaveRule(ctx, Rule{Kind: KindRoute, Name: "zj", Expression: `Province == "浙江省"`, Target: "WH1", Priority: 1, Enabled: true}, "admin"); err != nil {
			t.Fatal(err)
		}
		r = e.ingest(t, "shop", mk("R1", t0, withLines(lineOf("SKU-B", 1))))
		if o := e.order(t, r.OrderID); o.Status != Held || !hasReason(o, ReasonOutOfStock) {
			t.Fatalf("rule to WH1 without B: %s %q %v", o.Status, o.WarehouseID, o.HoldReasons)
		}
		r = e.ingest(t, "shop", mk("R2", t0, withLines(lineOf("SKU-B", 1)), func(o *channel.Order) {
			o.Receiver.Province, o.Receiver.City, o.Receiver.District = "广东省", "广州市", "天河区"
		}))
		if o := e.order(t, r.OrderID); o.Status != Approved || o.WarehouseID != "WH2" {
			t.Fatalf("no rule matched: %s %q", o.Status, o.WarehouseID)
		}
	})
}

// With no warehouse source wired, no rule and no DefaultWarehouse an order
// is held as before, with a reason saying so.
func TestNoRouteWithoutWarehouseSource(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		e.svc = New(db, Options{Stock: e.stock, Resolver: e.res, Now: func() time.Time { return e.now }})
		r := e.ingest(t, "shop", mk("N1", t0))
		d, err := e.svc.Get(context.Background(), r.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Order.Status != Held || !hasReason(&d.Order, ReasonNoRoute) {
			t.Fatalf("%s %v", d.Order.Status, d.Order.HoldReasons)
		}
		found := false
		for _, ev := range d.Events {
			found = found || strings.Contains(ev.Detail, "no default warehouse")
		}
		if !found {
			t.Fatalf("no event explains the hold: %+v", d.Events)
		}
	})
}
