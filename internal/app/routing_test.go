package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/store"
	"omnihub/store/storetest"
)

// TestDefaultOrderRouting is a merchant who never writes a routing rule:
// orders go to the active warehouse that has the stock (real inventory and
// catalog, wired by ConnectOrders); no_warehouse only while there is none;
// a routing rule, once written, decides first.
func TestDefaultOrderRouting(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		cat := catalog.New(db, catalog.Options{})
		inv := inventory.New(db, inventory.Options{Bundles: CatalogBundles(cat)})
		a := &App{Orders: order.New(db, order.Options{})}
		a.ConnectOrders(inv, cat)

		sku := map[string]string{}
		for _, code := range []string{"A", "B"} {
			k, err := cat.CreateSKU(ctx, catalog.SKUInput{Code: code, Name: code, PriceFen: 1000})
			if err != nil {
				t.Fatal(err)
			}
			sku[code] = k.ID
		}
		kit, err := cat.CreateSKU(ctx, catalog.SKUInput{Code: "KIT", Name: "kit", Kind: catalog.Bundle,
			Components: []catalog.Component{{SKUID: sku["A"], Qty: 2}, {SKUID: sku["B"], Qty: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		sku["KIT"] = kit.ID

		n := 0
		ingest := func(province string, codes ...string) *order.Order {
			t.Helper()
			n++
			paid := time.Now().UTC().Add(-time.Minute)
			o := channel.Order{PlatformOrderID: fmt.Sprintf("T%d", n), PlatformStatus: "WAIT_SELLER_SEND_GOODS", Status: channel.OrderPaid,
				CreatedAt: paid, PaidAt: &paid, ModifiedAt: paid, BuyerID: fmt.Sprintf("b%d", n), Currency: "CNY",
				Receiver: channel.Address{Name: "李雷", Phone: fmt.Sprintf("138%08d", n), Province: province, City: "杭州市", District: "西湖区", Detail: "文三路1号"}}
			if province == "广东省" {
				o.Receiver.City, o.Receiver.District = "广州市", "天河区"
			}
			for i, c := range codes {
				o.Lines = append(o.Lines, channel.OrderLine{PlatformLineID: fmt.Sprintf("%s-%d", o.PlatformOrderID, i+1), PlatformItemID: "I-" + c,
					PlatformSKUID: "P-" + c, OuterSKUID: c, Title: c, Quantity: 1, Price: 1000, Paid: 1000})
			}
			o.GoodsAmount, o.PaidAmount = int64(1000*len(codes)), int64(1000*len(codes))
			r, err := a.Orders.Ingest(ctx, "S1", o)
			if err != nil {
				t.Fatalf("ingest %s: %v", o.PlatformOrderID, err)
			}
			got, err := a.Orders.FindByPlatformID(ctx, "S1", r.PlatformOrderID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		reserved := func(wh, code string) int64 {
			t.Helper()
			b, err := inv.Balance(ctx, wh, sku[code])
			if err != nil {
				t.Fatal(err)
			}
			return b.Reserved
		}
		receive := func(wh, code string, qty int64) {
			t.Helper()
			if err := inv.Receive(ctx, inventory.DocRef{Type: "receipt", ID: "R-" + wh + "-" + code, Line: 1}, wh, sku[code], qty); err != nil {
				t.Fatal(err)
			}
		}

		// No warehouse yet: held, and only for that reason.
		if o := ingest("浙江省", "A"); o.Status != order.Held || len(o.HoldReasons) != 1 || o.HoldReasons[0] != order.ReasonNoRoute {
			t.Fatalf("without a warehouse: %s %v", o.Status, o.HoldReasons)
		}

		// One warehouse with stock: approved and reserved there.
		hz, err := inv.CreateWarehouse(ctx, "HZ", "杭州仓")
		if err != nil {
			t.Fatal(err)
		}
		receive(hz.ID, "A", 10)
		if o := ingest("浙江省", "A"); o.Status != order.Approved || o.WarehouseID != hz.ID || reserved(hz.ID, "A") != 1 {
			t.Fatalf("one warehouse: %s %v %q reserved %d", o.Status, o.HoldReasons, o.WarehouseID, reserved(hz.ID, "A"))
		}

		// A second warehouse, the only one with B: B goes there.
		gz, err := inv.CreateWarehouse(ctx, "GZ", "广州仓")
		if err != nil {
			t.Fatal(err)
		}
		receive(gz.ID, "B", 5)
		if o := ingest("浙江省", "B"); o.Status != order.Approved || o.WarehouseID != gz.ID || reserved(gz.ID, "B") != 1 {
			t.Fatalf("B only in GZ: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}
		// A in both: the older warehouse is preferred.
		receive(gz.ID, "A", 10)
		if o := ingest("浙江省", "A"); o.Status != order.Approved || o.WarehouseID != hz.ID {
			t.Fatalf("A in both: %s %q", o.Status, o.WarehouseID)
		}
		// A bundle counts through its components: only GZ has both.
		if o := ingest("浙江省", "KIT"); o.Status != order.Approved || o.WarehouseID != gz.ID || reserved(gz.ID, "A") != 2 || reserved(gz.ID, "B") != 2 {
			t.Fatalf("kit: %s %v %q reserved A %d B %d", o.Status, o.HoldReasons, o.WarehouseID, reserved(gz.ID, "A"), reserved(gz.ID, "B"))
		}
		// An inactive warehouse is skipped.
		if _, err := db.Exec(ctx, `UPDATE inv_warehouses SET active = $1 WHERE id = $2`, false, gz.ID); err != nil {
			t.Fatal(err)
		}
		if o := ingest("浙江省", "B"); o.Status != order.Held || o.HoldReasons[0] != order.ReasonOutOfStock {
			t.Fatalf("B with GZ inactive: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}
		if _, err := db.Exec(ctx, `UPDATE inv_warehouses SET active = $1 WHERE id = $2`, true, gz.ID); err != nil {
			t.Fatal(err)
		}

		// A routing rule decides before stock does. Its target may be given
		// by code; the id is stored. An unknown warehouse is refused.
		if _, err := a.Orders.SaveRule(ctx, order.Rule{Kind: order.KindRoute, Name: "north", Expression: `Province == "北京市"`,
			Target: "BJ", Priority: 5, Enabled: true}, "admin"); !errs.Is(err, errs.Invalid) || !strings.Contains(errs.FieldsOf(err)["target"], `"BJ"`) {
			t.Fatalf("rule to an unknown warehouse: %v", err)
		}
		south, err := a.Orders.SaveRule(ctx, order.Rule{Kind: order.KindRoute, Name: "south", Expression: `Province == "广东省"`,
			Target: "GZ", Priority: 10, Enabled: true}, "admin")
		if err != nil || south.Target != gz.ID {
			t.Fatalf("rule by warehouse code: %+v %v", south, err)
		}
		if o := ingest("广东省", "A"); o.Status != order.Approved || o.WarehouseID != gz.ID {
			t.Fatalf("rule to GZ: %s %v %q", o.Status, o.HoldReasons, o.WarehouseID)
		}
		if o := ingest("浙江省", "A"); o.Status != order.Approved || o.WarehouseID != hz.ID {
			t.Fatalf("no rule matched: %s %q", o.Status, o.WarehouseID)
		}
		rep, err := inv.Check(ctx)
		if err != nil || len(rep.Violations) != 0 {
			t.Fatalf("inventory check: %v %+v", err, rep)
		}
	})
}

// TestRegionOrderRouting is a merchant with a national warehouse and a
// regional one: with real inventory wired by ConnectOrders, an order goes to
// the warehouse that serves its province before the one with the better
// priority, the priority decides among the others, stock still decides
// when the preferred one is short, and a rule to a deactivated warehouse
// holds its orders warehouse_inactive instead of sending them there.
func TestRegionOrderRouting(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		cat := catalog.New(db, catalog.Options{})
		inv := inventory.New(db, inventory.Options{Bundles: CatalogBundles(cat)})
		a := &App{Orders: order.New(db, order.Options{})}
		a.ConnectOrders(inv, cat)

		sku := map[string]string{}
		for _, code := range []string{"A", "B"} {
			k, err := cat.CreateSKU(ctx, catalog.SKUInput{Code: code, Name: code, PriceFen: 1000})
			if err != nil {
				t.Fatal(err)
			}
			sku[code] = k.ID
		}
		wh := func(code string, priority int, provinces ...string) inventory.Warehouse {
			t.Helper()
			w, err := inv.CreateWarehouseFrom(ctx, inventory.WarehouseInput{Code: code, Priority: &priority, Provinces: provinces})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		receive := func(w inventory.Warehouse, code string, qty int64) {
			t.Helper()
			if err := inv.Receive(ctx, inventory.DocRef{Type: "receipt", ID: "R-" + w.Code + "-" + code, Line: 1}, w.ID, sku[code], qty); err != nil {
				t.Fatal(err)
			}
		}
		addr := map[string][3]string{"浙江省": {"浙江省", "杭州市", "西湖区"}, "广东省": {"广东省", "广州市", "天河区"}, "北京市": {"北京市", "北京市", "海淀区"}}
		n := 0
		ingest := func(province string, codes ...string) *order.Order {
			t.Helper()
			n++
			paid := time.Now().UTC().Add(-time.Minute)
			ad := addr[province]
			o := channel.Order{PlatformOrderID: fmt.Sprintf("G%d", n), PlatformStatus: "WAIT_SELLER_SEND_GOODS", Status: channel.OrderPaid,
				CreatedAt: paid, PaidAt: &paid, ModifiedAt: paid, BuyerID: fmt.Sprintf("g%d", n), Currency: "CNY",
				Receiver: channel.Address{Name: "韩梅梅", Phone: fmt.Sprintf("139%08d", n), Province: ad[0], City: ad[1], District: ad[2], Detail: "中山路2号"}}
			for i, c := range codes {
				o.Lines = append(o.Lines, channel.OrderLine{PlatformLineID: fmt.Sprintf("%s-%d", o.PlatformOrderID, i+1), PlatformItemID: "I-" + c,
					PlatformSKUID: "P-" + c, OuterSKUID: c, Title: c, Quantity: 1, Price: 1000, Paid: 1000})
			}
			o.GoodsAmount, o.PaidAmount = int64(1000*len(codes)), int64(1000*len(codes))
			r, err := a.Orders.Ingest(ctx, "S1", o)
			if err != nil {
				t.Fatalf("ingest %s: %v", o.PlatformOrderID, err)
			}
			got, err := a.Orders.FindByPlatformID(ctx, "S1", r.PlatformOrderID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		want := func(o *order.Order, w inventory.Warehouse) {
			t.Helper()
			if o.Status != order.Approved || o.WarehouseID != w.ID {
				t.Fatalf("%s: %s %v to %q, want approved to %s (%s)", o.PlatformOrderID, o.Status, o.HoldReasons, o.WarehouseID, w.Code, w.ID)
			}
		}

		// NAT is created first and preferred by priority; HZ serves 浙江;
		// GZ serves 广东 and 广西 with a worse priority than BJ, which
		// serves 北京.
		nat := wh("NAT", 10)
		hz := wh("HZ", 50, "浙江省")
		gz := wh("GZ", 60, "广东", "45")
		bj := wh("BJ", 40, "11")
		for _, w := range []inventory.Warehouse{nat, hz, gz, bj} {
			receive(w, "A", 10)
		}

		want(ingest("浙江省", "A"), hz) // region beats NAT's priority
		want(ingest("广东省", "A"), gz) // region beats BJ's and NAT's priority
		want(ingest("北京市", "A"), bj)

		// HZ becomes a second 北京 warehouse with a better priority than BJ.
		if _, err := inv.UpdateWarehouse(ctx, "HZ", inventory.WarehousePatch{Priority: intp(30), Provinces: &[]string{"浙江", "北京"}}); err != nil {
			t.Fatal(err)
		}
		want(ingest("北京市", "A"), hz) // priority among the 北京 warehouses

		// Stock fallback: only NAT has B; a 浙江 order goes there.
		receive(nat, "B", 5)
		want(ingest("浙江省", "B"), nat)
		// An order HZ cannot ship whole but NAT can goes whole to NAT…
		want(ingest("浙江省", "A", "B"), nat)
		// …and split when no one warehouse has both (NAT deactivated, B
		// only in a new warehouse SH): A from HZ, B from SH.
		if _, err := inv.UpdateWarehouse(ctx, "NAT", inventory.WarehousePatch{Active: boolp(false)}); err != nil {
			t.Fatal(err)
		}
		sh := wh("SH", 70)
		receive(sh, "B", 5)
		o := ingest("浙江省", "A", "B")
		if o.Status != order.Approved || len(o.Parts) != 2 || o.Parts[0].WarehouseID != hz.ID || o.Parts[1].WarehouseID != sh.ID {
			t.Fatalf("split: %s %v %+v", o.Status, o.HoldReasons, o.Parts)
		}

		// A rule to a deactivated warehouse (NAT) holds its orders.
		if _, err := a.Orders.SaveRule(ctx, order.Rule{Kind: order.KindRoute, Name: "gd_nat", Expression: `Province == "广东省"`,
			Target: "NAT", Priority: 1, Enabled: true}, "admin"); err != nil {
			t.Fatal(err)
		}
		held := ingest("广东省", "A")
		if held.Status != order.Held || len(held.HoldReasons) != 1 || held.HoldReasons[0] != order.ReasonInactiveWarehouse {
			t.Fatalf("rule to inactive NAT: %s %v %q", held.Status, held.HoldReasons, held.WarehouseID)
		}
		// Reactivated, the held order replays to NAT.
		if _, err := inv.UpdateWarehouse(ctx, "NAT", inventory.WarehousePatch{Active: boolp(true)}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Orders.Replay(ctx, held.ID, "ops"); err != nil {
			t.Fatal(err)
		}
		d, err := a.Orders.Get(ctx, held.ID)
		if err != nil {
			t.Fatal(err)
		}
		want(&d.Order, nat)

		rep, err := inv.Check(ctx)
		if err != nil || len(rep.Violations) != 0 {
			t.Fatalf("inventory check: %v %+v", err, rep)
		}
	})
}

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }
