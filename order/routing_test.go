package order

import (
	"context"
	"fmt"
	"slices"
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
		e.stock.setWarehouses("WH1")
		e.stock.set("WH1", "SKU-A", 100)
		if _, err := e.svc.Replay(ctx, held.ID, "ops"); err != nil {
			t.Fatal(err)
		}
		if o := e.order(t, held.ID); o.Status != Approved || o.WarehouseID != "WH1" || len(e.stock.reservedOf(o.ID)) != 1 {
			t.Fatalf("replayed with one warehouse: %s %q %v", o.Status, o.WarehouseID, e.stock.reservedOf(o.ID))
		}

		// Two warehouses: the first that has every line, by preference.
		e.stock.setWarehouses("WH1", "WH2")
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

// receiverIn moves an order's receiver to a province (a valid address there).
func receiverIn(province string) func(*channel.Order) {
	addr := map[string][3]string{
		"浙江省": {"浙江省", "杭州市", "西湖区"},
		"广东省": {"广东省", "广州市", "天河区"},
		"上海市": {"上海市", "上海市", "浦东新区"},
	}[province]
	return func(o *channel.Order) {
		o.Receiver.Province, o.Receiver.City, o.Receiver.District = addr[0], addr[1], addr[2]
	}
}

// Default routing honours region and priority: a warehouse that serves the
// receiver's province comes before one that does not, whatever their
// priorities; among equals the lower priority wins, then the source's order;
// stock still decides among them (whole order first, else a split).
func TestRegionAndPriorityRouting(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newRoutingEnv(t, db)
		ctx := context.Background()
		// NAT: preferred by priority, serves no province in particular.
		// ZJ-A and ZJ-B serve 浙江 (33); ZJ-B also 上海 (31) and is preferred.
		// SOUTH serves 广东 (44) with the worst priority.
		e.stock.setRoutes(
			WarehouseRoute{ID: "NAT", Priority: 5},
			WarehouseRoute{ID: "ZJ-B", Priority: 20, Provinces: []string{"31", "33"}},
			WarehouseRoute{ID: "ZJ-A", Priority: 50, Provinces: []string{"33"}},
			WarehouseRoute{ID: "SOUTH", Priority: 90, Provinces: []string{"44"}},
		)
		for _, w := range []string{"NAT", "ZJ-B", "ZJ-A", "SOUTH"} {
			e.stock.set(w, "SKU-A", 100)
		}
		route := func(pid string, mut ...func(*channel.Order)) *Order {
			t.Helper()
			r := e.ingest(t, "shop", mk(pid, t0, mut...))
			return e.order(t, r.OrderID)
		}
		want := func(o *Order, wh string) {
			t.Helper()
			if o.Status != Approved || o.WarehouseID != wh || len(o.Parts) != 1 {
				t.Fatalf("%s: %s %v to %q %+v, want approved to %s", o.PlatformOrderID, o.Status, o.HoldReasons, o.WarehouseID, o.Parts, wh)
			}
			if got := e.stock.reservedOf(o.ID); len(got) != 1 || got[0].WarehouseID != wh {
				t.Fatalf("%s reserved %+v, want in %s", o.PlatformOrderID, got, wh)
			}
		}

		// 浙江: a province warehouse beats NAT's better priority; of the two
		// that serve 浙江, the lower priority (ZJ-B).
		want(route("ZJ1", receiverIn("浙江省")), "ZJ-B")
		// 上海: only ZJ-B serves it.
		want(route("SH1", receiverIn("上海市")), "ZJ-B")
		// 广东: SOUTH, despite the worst priority.
		want(route("GD1", receiverIn("广东省")), "SOUTH")
		// Stock fallback within the preference: ZJ-B lacks B, ZJ-A has it.
		e.stock.set("ZJ-A", "SKU-B", 10)
		e.stock.set("NAT", "SKU-B", 10)
		want(route("ZJ2", receiverIn("浙江省"), withLines(lineOf("SKU-B", 1))), "ZJ-A")
		// No 浙江 warehouse has C: the best of the others by priority (NAT),
		// not SOUTH.
		e.stock.set("NAT", "SKU-C", 10)
		e.stock.set("SOUTH", "SKU-C", 10)
		want(route("ZJ3", receiverIn("浙江省"), withLines(lineOf("SKU-C", 1))), "NAT")
		// For 广东 the same SKU comes from SOUTH.
		want(route("GD2", receiverIn("广东省"), withLines(lineOf("SKU-C", 1))), "SOUTH")

		// No warehouse has A and D together: a split, each line from the
		// most preferred warehouse that has it (A from ZJ-B, D from NAT).
		e.stock.set("NAT", "SKU-D", 10)
		e.stock.set("NAT", "SKU-A", 0)
		o := route("ZJ4", receiverIn("浙江省"), withLines(lineOf("SKU-D", 1), lineOf("SKU-A", 1)))
		if o.Status != Approved || len(o.Parts) != 2 || o.Parts[0].WarehouseID != "NAT" || o.Parts[1].WarehouseID != "ZJ-B" {
			t.Fatalf("split: %s %v %+v", o.Status, o.HoldReasons, o.Parts)
		}

		// Equal priority and region: the source's order (the older first).
		e.stock.setRoutes(
			WarehouseRoute{ID: "ZJ-A", Priority: 20, Provinces: []string{"33"}},
			WarehouseRoute{ID: "ZJ-B", Priority: 20, Provinces: []string{"31", "33"}},
		)
		want(route("ZJ5", receiverIn("浙江省")), "ZJ-A")
		e.stock.setRoutes(
			WarehouseRoute{ID: "ZJ-B", Priority: 20, Provinces: []string{"31", "33"}},
			WarehouseRoute{ID: "ZJ-A", Priority: 20, Provinces: []string{"33"}},
		)
		want(route("ZJ6", receiverIn("浙江省")), "ZJ-B")
		// Priority is weighed even when the source lists out of order.
		e.stock.setRoutes(
			WarehouseRoute{ID: "ZJ-A", Priority: 30, Provinces: []string{"33"}},
			WarehouseRoute{ID: "ZJ-B", Priority: 10, Provinces: []string{"33"}},
		)
		want(route("ZJ7", receiverIn("浙江省")), "ZJ-B")

		// A batch reads the warehouses once and still weighs each order's
		// province: one order to 浙江, one to 广东, one to 上海 (which
		// none of these serves).
		e.stock.set("NAT", "SKU-A", 100)
		e.stock.setRoutes(
			WarehouseRoute{ID: "NAT", Priority: 5},
			WarehouseRoute{ID: "ZJ-A", Priority: 50, Provinces: []string{"33"}},
			WarehouseRoute{ID: "SOUTH", Priority: 90, Provinces: []string{"44"}},
		)
		res, err := e.svc.IngestBatch(ctx, "shop", []channel.Order{mk("BZ", t0, receiverIn("浙江省")), mk("BG", t0, receiverIn("广东省")), mk("BS", t0, receiverIn("上海市"))})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, x := range res {
			o := e.order(t, x.OrderID)
			got[o.PlatformOrderID] = o.WarehouseID
		}
		if got["BZ"] != "ZJ-A" || got["BG"] != "SOUTH" || got["BS"] != "NAT" {
			t.Fatalf("batch routed %v, want BZ→ZJ-A BG→SOUTH BS→NAT", got)
		}
	})
}

// A routing rule whose target is not an active warehouse sends nothing
// there: when another matching rule names an active one, that one is used
// and the order's history says which rule was passed over; when none does,
// the order is held warehouse_inactive (not routed elsewhere), and replays
// once the warehouse is active again.
func TestInactiveRuleTarget(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newRoutingEnv(t, db)
		ctx := context.Background()
		e.stock.setWarehouses("WH1", "WH2")
		for _, w := range []string{"WH1", "WH2", "WH3"} {
			e.stock.set(w, "SKU-A", 100)
		}
		if _, err := e.svc.SaveRule(ctx, Rule{Kind: KindRoute, Name: "zj", Expression: `Province == "浙江省"`, Target: "WH3", Priority: 1, Enabled: true}, "admin"); err != nil {
			t.Fatal(err)
		}
		r := e.ingest(t, "shop", mk("I1", t0))
		d, err := e.svc.Get(ctx, r.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if o := d.Order; o.Status != Held || len(o.HoldReasons) != 1 || o.HoldReasons[0] != ReasonInactiveWarehouse || o.WarehouseID != "" {
			t.Fatalf("only rule targets inactive WH3: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}
		if len(e.stock.reservedOf(r.OrderID)) != 0 {
			t.Fatalf("held order reserved %+v", e.stock.reservedOf(r.OrderID))
		}
		explained := false
		for _, ev := range d.Events {
			explained = explained || (strings.Contains(ev.Detail, "zj") && strings.Contains(ev.Detail, "WH3"))
		}
		if !explained {
			t.Fatalf("no event names the rule and warehouse: %+v", d.Events)
		}
		// An order no rule matches is routed as usual.
		r2 := e.ingest(t, "shop", mk("I2", t0, receiverIn("广东省")))
		if o := e.order(t, r2.OrderID); o.Status != Approved || o.WarehouseID != "WH1" {
			t.Fatalf("no rule matched: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}

		// A second matching rule to an active warehouse takes over.
		if _, err := e.svc.SaveRule(ctx, Rule{Kind: KindRoute, Name: "all", Expression: `true`, Target: "WH2", Priority: 2, Enabled: true}, "admin"); err != nil {
			t.Fatal(err)
		}
		r3 := e.ingest(t, "shop", mk("I3", t0))
		d, err = e.svc.Get(ctx, r3.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if o := d.Order; o.Status != Approved || o.WarehouseID != "WH2" {
			t.Fatalf("rule to WH3 passed over for WH2: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}
		passed := false
		for _, ev := range d.Events {
			passed = passed || (ev.Kind == "route" && strings.Contains(ev.Detail, "zj → WH3"))
		}
		if !passed {
			t.Fatalf("no route event for the passed-over rule: %+v", d.Events)
		}

		// WH3 active again: the held order replays to it.
		e.stock.setWarehouses("WH1", "WH2", "WH3")
		if _, err := e.svc.Replay(ctx, r.OrderID, "ops"); err != nil {
			t.Fatal(err)
		}
		if o := e.order(t, r.OrderID); o.Status != Approved || o.WarehouseID != "WH3" {
			t.Fatalf("replayed with WH3 active: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}
	})
}

// byRegion: province servers first, then priority, ties in source order; an
// order whose province did not resolve ("") is ordered by priority alone.
func TestByRegion(t *testing.T) {
	ws := []WarehouseRoute{
		{ID: "A", Priority: 50},
		{ID: "B", Priority: 10, Provinces: []string{"44"}},
		{ID: "C", Priority: 50, Provinces: []string{"33"}},
		{ID: "D", Priority: 90, Provinces: []string{"31", "33"}},
		{ID: "E", Priority: 10},
	}
	for _, c := range []struct {
		province string
		want     []string
	}{
		{"33", []string{"C", "D", "B", "E", "A"}},
		{"44", []string{"B", "E", "A", "C", "D"}},
		{"31", []string{"D", "B", "E", "A", "C"}},
		{"", []string{"B", "E", "A", "C", "D"}},
		{"65", []string{"B", "E", "A", "C", "D"}},
	} {
		if got := byRegion(ws, c.province); !slices.Equal(got, c.want) {
			t.Errorf("byRegion(%q) = %v, want %v", c.province, got, c.want)
		}
	}
	if ws[0].ID != "A" || ws[4].ID != "E" {
		t.Fatalf("byRegion reordered its input: %+v", ws)
	}
	for _, c := range [][2]string{{"330106", "33"}, {"4401", "44"}, {"81", "81"}, {"", ""}, {"3", ""}} {
		if got := provinceOf(c[0]); got != c[1] {
			t.Errorf("provinceOf(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

// A deactivated DefaultWarehouse is passed over: the order is routed among
// the active warehouses as if there were no default, and its history says
// so. While the default is active it takes every order.
func TestInactiveDefaultWarehouse(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newRoutingEnv(t, db)
		e.svc = New(db, Options{Stock: e.stock, Resolver: e.res, Warehouses: e.stock, DefaultWarehouse: "WH-DEF", Now: func() time.Time { return e.now }})
		for _, w := range []string{"WH-DEF", "WH1"} {
			e.stock.set(w, "SKU-A", 100)
		}
		e.stock.setWarehouses("WH-DEF", "WH1")
		r := e.ingest(t, "shop", mk("D1", t0))
		if o := e.order(t, r.OrderID); o.Status != Approved || o.WarehouseID != "WH-DEF" {
			t.Fatalf("active default: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}

		e.stock.setWarehouses("WH1")
		r = e.ingest(t, "shop", mk("D2", t0))
		d, err := e.svc.Get(context.Background(), r.OrderID)
		if err != nil {
			t.Fatal(err)
		}
		if o := d.Order; o.Status != Approved || o.WarehouseID != "WH1" {
			t.Fatalf("inactive default: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}
		if got := e.stock.reservedOf(r.OrderID); len(got) != 1 || got[0].WarehouseID != "WH1" {
			t.Fatalf("reserved %+v, want WH1", got)
		}
		passed := false
		for _, ev := range d.Events {
			passed = passed || (ev.Kind == "route" && strings.Contains(ev.Detail, "WH-DEF"))
		}
		if !passed {
			t.Fatalf("no route event names the inactive default: %+v", d.Events)
		}

		// No active warehouse at all: held, as without a default.
		e.stock.setWarehouses()
		r = e.ingest(t, "shop", mk("D3", t0))
		if o := e.order(t, r.OrderID); o.Status != Held || !hasReason(o, ReasonNoRoute) {
			t.Fatalf("nothing active: %s %v", o.Status, o.HoldReasons)
		}
	})
}
