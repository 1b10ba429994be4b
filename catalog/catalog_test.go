package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"omnihub/catalog"
	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

func mustSKU(t *testing.T, c *catalog.Service, in catalog.SKUInput) catalog.SKU {
	t.Helper()
	k, err := c.CreateSKU(context.Background(), in)
	if err != nil {
		t.Fatalf("create SKU %s: %v", in.Code, err)
	}
	return k
}

func TestProductAndSKUCRUD(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		c := catalog.New(db, catalog.Options{})
		p, err := c.CreateProduct(ctx, catalog.ProductInput{Code: "TS-01", Name: "T-shirt", Category: "apparel", Images: []string{"https://img.example/1.jpg"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateProduct(ctx, catalog.ProductInput{Code: "TS-01", Name: "dup"}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate product code: got %v, want conflict", err)
		}
		k := mustSKU(t, c, catalog.SKUInput{
			ProductID: p.ID, Code: "TS-01-RED-M", Barcode: "6901234567890", Name: "T-shirt red M",
			Attributes: map[string]string{"colour": "red", "size": "M"},
			CostFen:    1250, PriceFen: 3990, ListPriceFen: 5990, WeightG: 180, VolumeCm3: 900,
			Images: []string{"https://img.example/red.jpg"},
		})
		if k.Kind != catalog.Simple || k.Status != catalog.Active || k.Currency != "CNY" {
			t.Fatalf("defaults not applied: %+v", k)
		}
		got, err := c.GetSKU(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Attributes["colour"] != "red" || got.PriceFen != 3990 || got.Barcode != "6901234567890" || got.ProductID != p.ID {
			t.Fatalf("read back %+v", got)
		}
		if byCode, err := c.SKUByCode(ctx, "TS-01-RED-M"); err != nil || byCode.ID != k.ID {
			t.Fatalf("by code: %v %+v", err, byCode)
		}
		if byBar, err := c.SKUByBarcode(ctx, "6901234567890"); err != nil || byBar.ID != k.ID {
			t.Fatalf("by barcode: %v %+v", err, byBar)
		}
		// Barcode unique when set; two SKUs without barcode are fine.
		_, err = c.CreateSKU(ctx, catalog.SKUInput{Code: "OTHER", Name: "x", Barcode: "6901234567890"})
		if !errs.Is(err, errs.Conflict) || errs.FieldsOf(err)["barcode"] == "" {
			t.Fatalf("duplicate barcode: got %v, want conflict on barcode", err)
		}
		mustSKU(t, c, catalog.SKUInput{Code: "NB-1", Name: "no barcode 1"})
		mustSKU(t, c, catalog.SKUInput{Code: "NB-2", Name: "no barcode 2"})
		if _, err := c.CreateSKU(ctx, catalog.SKUInput{Code: "NB-1", Name: "dup"}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate code: %v", err)
		}

		in := catalog.SKUInput{ProductID: p.ID, Code: "TS-01-RED-M", Name: "T-shirt red M v2", PriceFen: 4990, Status: catalog.Inactive}
		up, err := c.UpdateSKU(ctx, k.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if up.Name != "T-shirt red M v2" || up.Barcode != "" || up.Status != catalog.Inactive || !up.CreatedAt.Equal(k.CreatedAt) {
			t.Fatalf("update: %+v", up)
		}
		if _, err := c.UpdateSKU(ctx, "nope", in); !errs.Is(err, errs.NotFound) {
			t.Fatalf("update missing: %v", err)
		}
		in.Code = "NB-1"
		if _, err := c.UpdateSKU(ctx, k.ID, in); !errs.Is(err, errs.Conflict) {
			t.Fatalf("update to a taken code: %v", err)
		}

		list, err := c.ListSKUs(ctx, catalog.SKUFilter{Limit: 2})
		if err != nil || len(list) != 2 || list[0].Code != "NB-1" || list[1].Code != "NB-2" {
			t.Fatalf("list page 1: %v %+v", err, list)
		}
		list, err = c.ListSKUs(ctx, catalog.SKUFilter{AfterCode: list[1].Code})
		if err != nil || len(list) != 1 || list[0].ID != k.ID {
			t.Fatalf("list page 2: %v %+v", err, list)
		}
		list, err = c.ListSKUs(ctx, catalog.SKUFilter{Query: "v2"})
		if err != nil || len(list) != 1 {
			t.Fatalf("search: %v %+v", err, list)
		}
		p.Name = "T-shirt classic"
		up2, err := c.UpdateProduct(ctx, p.ID, catalog.ProductInput{Code: p.Code, Name: "T-shirt classic", Category: "tops"})
		if err != nil || up2.Name != "T-shirt classic" || up2.Category != "tops" {
			t.Fatalf("update product: %v %+v", err, up2)
		}
		ps, err := c.ListProducts(ctx, "", 10)
		if err != nil || len(ps) != 1 {
			t.Fatalf("list products: %v %+v", err, ps)
		}
		if _, err := c.CreateSKU(ctx, catalog.SKUInput{Code: "X", Name: "x", ProductID: "missing"}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("missing product: %v", err)
		}
	})
}

func TestValidationNamesFields(t *testing.T) {
	c := catalog.New(storetest.OpenSQLite(t, jobs.Config{}), catalog.Options{})
	ctx := context.Background()
	cases := []struct {
		name  string
		in    catalog.SKUInput
		field string
	}{
		{"no code", catalog.SKUInput{Name: "x"}, "code"},
		{"space in code", catalog.SKUInput{Code: "A B", Name: "x"}, "code"},
		{"no name", catalog.SKUInput{Code: "A"}, "name"},
		{"negative price", catalog.SKUInput{Code: "A", Name: "x", PriceFen: -1}, "price_fen"},
		{"bad currency", catalog.SKUInput{Code: "A", Name: "x", Currency: "yuan"}, "currency"},
		{"bad barcode", catalog.SKUInput{Code: "A", Name: "x", Barcode: "12 34"}, "barcode"},
		{"bad image", catalog.SKUInput{Code: "A", Name: "x", Images: []string{"javascript:alert(1)"}}, "images"},
		{"bad kind", catalog.SKUInput{Code: "A", Name: "x", Kind: "kit"}, "kind"},
		{"bad status", catalog.SKUInput{Code: "A", Name: "x", Status: "deleted"}, "status"},
		{"negative weight", catalog.SKUInput{Code: "A", Name: "x", WeightG: -5}, "weight_g"},
		{"attr with separator", catalog.SKUInput{Code: "A", Name: "x", Attributes: map[string]string{"a;b": "c"}}, "attributes"},
		{"bundle without components", catalog.SKUInput{Code: "A", Name: "x", Kind: catalog.Bundle}, "components"},
		{"simple with components", catalog.SKUInput{Code: "A", Name: "x", Components: []catalog.Component{{SKUID: "b", Qty: 1}}}, "components"},
		{"zero qty", catalog.SKUInput{Code: "A", Name: "x", Kind: catalog.Bundle, Components: []catalog.Component{{SKUID: "b", Qty: 0}}}, "components"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateSKU(ctx, tc.in)
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("got %v, want invalid", err)
			}
			if _, ok := errs.FieldsOf(err)[tc.field]; !ok {
				t.Fatalf("fields %v do not name %s", errs.FieldsOf(err), tc.field)
			}
		})
	}
	// Several problems are reported together.
	_, err := c.CreateSKU(ctx, catalog.SKUInput{PriceFen: -1})
	f := errs.FieldsOf(err)
	if f["code"] == "" || f["name"] == "" || f["price_fen"] == "" {
		t.Fatalf("want code, name and price_fen named, got %v", f)
	}
	if _, err := c.CreateProduct(ctx, catalog.ProductInput{}); errs.FieldsOf(err)["code"] == "" || errs.FieldsOf(err)["name"] == "" {
		t.Fatalf("product validation: %v", err)
	}
}

func TestBundles(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		c := catalog.New(db, catalog.Options{})
		a := mustSKU(t, c, catalog.SKUInput{Code: "A", Name: "shampoo"})
		b := mustSKU(t, c, catalog.SKUInput{Code: "B", Name: "conditioner"})
		kit := mustSKU(t, c, catalog.SKUInput{Code: "KIT", Name: "hair kit", Kind: catalog.Bundle,
			Components: []catalog.Component{{SKUID: a.ID, Qty: 2}, {SKUID: b.ID, Qty: 1}}})

		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			comps, isBundle, err := c.ComponentsTx(ctx, tx, kit.ID)
			if err != nil {
				return err
			}
			if !isBundle || len(comps) != 2 {
				t.Errorf("kit components: %v %+v", isBundle, comps)
			}
			qty := map[string]int64{}
			for _, cp := range comps {
				qty[cp.SKUID] = cp.Qty
			}
			if qty[a.ID] != 2 || qty[b.ID] != 1 {
				t.Errorf("quantities %v", qty)
			}
			if comps, isBundle, err := c.ComponentsTx(ctx, tx, a.ID); err != nil || isBundle || comps != nil {
				t.Errorf("simple SKU: %v %v %v", comps, isBundle, err)
			}
			if _, _, err := c.ComponentsTx(ctx, tx, "unknown"); !errs.Is(err, errs.NotFound) {
				t.Errorf("unknown SKU: %v", err)
			}
			in, err := c.BundlesContainingTx(ctx, tx, a.ID)
			if err != nil || len(in) != 1 || in[0] != kit.ID {
				t.Errorf("bundles containing A: %v %v", in, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// A bundle may not contain a bundle (which also rules out cycles),
		// itself, or a SKU that does not exist.
		_, err = c.CreateSKU(ctx, catalog.SKUInput{Code: "SUPER", Name: "kit of kits", Kind: catalog.Bundle,
			Components: []catalog.Component{{SKUID: kit.ID, Qty: 1}}})
		if !errs.Is(err, errs.Invalid) || errs.FieldsOf(err)["components"] == "" {
			t.Fatalf("bundle in bundle: %v", err)
		}
		_, err = c.SetComponents(ctx, kit.ID, []catalog.Component{{SKUID: kit.ID, Qty: 1}})
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("self-containing bundle: %v", err)
		}
		_, err = c.SetComponents(ctx, kit.ID, []catalog.Component{{SKUID: "ghost", Qty: 1}})
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("missing component: %v", err)
		}
		// A component cannot turn into a bundle (that would allow A → KIT → A).
		_, err = c.UpdateSKU(ctx, a.ID, catalog.SKUInput{Code: "A", Name: "shampoo", Kind: catalog.Bundle,
			Components: []catalog.Component{{SKUID: kit.ID, Qty: 1}}})
		if err == nil {
			t.Fatal("turning a component into a bundle of its bundle was accepted")
		}
		if _, err := c.SetComponents(ctx, a.ID, []catalog.Component{{SKUID: b.ID, Qty: 1}}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("components on a simple SKU: %v", err)
		}
		// Components can be replaced.
		k2, err := c.SetComponents(ctx, kit.ID, []catalog.Component{{SKUID: b.ID, Qty: 3}})
		if err != nil || len(k2.Components) != 1 || k2.Components[0].Qty != 3 {
			t.Fatalf("replace components: %v %+v", err, k2)
		}
		got, _ := c.GetSKU(ctx, kit.ID)
		if len(got.Components) != 1 || got.Components[0].SKUID != b.ID {
			t.Fatalf("read back %+v", got.Components)
		}
	})
}

func TestBindingsResolve(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		type call struct{ shop, platformSKU, sku string }
		var calls []call
		fail := false
		c := catalog.New(db, catalog.Options{OnBound: func(ctx context.Context, tx store.Tx, shopID, platformSKUID, skuID string) error {
			if tx == nil {
				t.Error("OnBound without a transaction")
			}
			if fail {
				return errs.E(errs.Unavailable, "hook failed")
			}
			calls = append(calls, call{shopID, platformSKUID, skuID})
			return nil
		}})
		red := mustSKU(t, c, catalog.SKUInput{Code: "RED", Name: "red"})
		blue := mustSKU(t, c, catalog.SKUInput{Code: "BLUE", Name: "blue"})

		// Unknown listing without a matching outer code: not resolved.
		if id, ok, err := c.Resolve(ctx, "shop1", "item1", "sku1", "NOPE"); err != nil || ok || id != "" {
			t.Fatalf("unresolvable: %q %v %v", id, ok, err)
		}
		// Outer code matches: resolved and auto-bound, hook called once.
		id, ok, err := c.Resolve(ctx, "shop1", "item1", "sku1", "RED")
		if err != nil || !ok || id != red.ID {
			t.Fatalf("auto-bind: %q %v %v", id, ok, err)
		}
		if len(calls) != 1 || calls[0] != (call{"shop1", "sku1", red.ID}) {
			t.Fatalf("OnBound calls %+v", calls)
		}
		// The binding wins over the outer code from now on.
		id, ok, err = c.Resolve(ctx, "shop1", "item1", "sku1", "BLUE")
		if err != nil || !ok || id != red.ID || len(calls) != 1 {
			t.Fatalf("bound listing: %q %v %v calls=%d", id, ok, err, len(calls))
		}
		bs, err := c.BindingsForSKU(ctx, "shop1", red.ID)
		if err != nil || len(bs) != 1 || bs[0].Source != catalog.SourceAuto || bs[0].OuterCode != "RED" {
			t.Fatalf("bindings for red: %v %+v", err, bs)
		}
		// A person rebinds it to blue.
		b, err := c.Bind(ctx, catalog.BindInput{ShopID: "shop1", PlatformItemID: "item1", PlatformSKUID: "sku1", SKUID: blue.ID})
		if err != nil || b.Source != catalog.SourceManual || b.SKUID != blue.ID {
			t.Fatalf("bind: %v %+v", err, b)
		}
		if len(calls) != 2 || calls[1].sku != blue.ID {
			t.Fatalf("OnBound after Bind: %+v", calls)
		}
		if id, _, _ := c.Resolve(ctx, "shop1", "item1", "sku1", "RED"); id != blue.ID {
			t.Fatalf("after rebind resolved to %s", id)
		}
		if _, err := c.Bind(ctx, catalog.BindInput{ShopID: "shop1", PlatformItemID: "item2", SKUID: "ghost"}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("bind to missing SKU: %v", err)
		}
		if _, err := c.Bind(ctx, catalog.BindInput{SKUID: blue.ID}); errs.FieldsOf(err)["shop_id"] == "" || errs.FieldsOf(err)["platform_item_id"] == "" {
			t.Fatalf("bind validation: %v", err)
		}
		if _, err := c.Bind(ctx, catalog.BindInput{ShopID: "shop2", PlatformItemID: "item9", SKUID: blue.ID}); err != nil {
			t.Fatal(err)
		}
		all, _ := c.BindingsForSKU(ctx, "", blue.ID)
		if len(all) != 2 {
			t.Fatalf("bindings for blue in all shops: %+v", all)
		}
		shop1, _ := c.BindingsForShop(ctx, "shop1", "", "", 0)
		if len(shop1) != 1 {
			t.Fatalf("shop1 bindings %+v", shop1)
		}
		if _, err := c.Bind(ctx, catalog.BindInput{ShopID: "shop2", PlatformItemID: "item7", PlatformSKUID: "sku3", SKUID: red.ID}); err != nil {
			t.Fatal(err)
		}
		bulk, err := c.BindingsForSKUs(ctx, "shop2", []string{blue.ID, red.ID, "unbound-sku"})
		if err != nil {
			t.Fatal(err)
		}
		if len(bulk) != 2 || len(bulk[blue.ID]) != 1 || bulk[blue.ID][0].PlatformItemID != "item9" ||
			len(bulk[red.ID]) != 1 || bulk[red.ID][0].PlatformSKUID != "sku3" {
			t.Fatalf("bulk bindings in shop2: %+v", bulk)
		}
		if none, err := c.BindingsForSKUs(ctx, "shop2", nil); err != nil || len(none) != 0 {
			t.Fatalf("bulk bindings of no SKU: %v %+v", err, none)
		}

		// A failing hook rolls the auto-binding back.
		fail = true
		_, _, err = c.Resolve(ctx, "shop1", "item3", "sku3", "RED")
		if !errs.Is(err, errs.Unavailable) {
			t.Fatalf("hook failure: %v", err)
		}
		fail = false
		if bs, _ := c.BindingsForShop(ctx, "shop1", "", "", 0); len(bs) != 1 {
			t.Fatalf("binding survived a failed hook: %+v", bs)
		}

		if err := c.Unbind(ctx, "shop1", "item1", "sku1"); err != nil {
			t.Fatal(err)
		}
		if err := c.Unbind(ctx, "shop1", "item1", "sku1"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("second unbind: %v", err)
		}
		// ResolveTx works in the caller's transaction and rolls back with it.
		rollback := errors.New("rollback")
		err = db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			id, ok, err := c.ResolveTx(ctx, tx, "shop1", "item1", "sku1", "RED")
			if err != nil || !ok || id != red.ID {
				t.Errorf("in tx: %q %v %v", id, ok, err)
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		if bs, _ := c.BindingsForShop(ctx, "shop1", "", "", 0); len(bs) != 0 {
			t.Fatalf("binding survived the caller's rollback: %+v", bs)
		}
	})
}

// Many order ingestions may resolve the same new listing at once: exactly
// one binding results, every caller gets the same SKU and the hook runs once.
func TestConcurrentAutoBind(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		var hooks atomic.Int64
		c := catalog.New(db, catalog.Options{OnBound: func(context.Context, store.Tx, string, string, string) error {
			hooks.Add(1)
			return nil
		}})
		k := mustSKU(t, c, catalog.SKUInput{Code: "HOT", Name: "hot"})
		var wg sync.WaitGroup
		errc := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, ok, err := c.Resolve(ctx, "shop", "item", "sku", "HOT")
				if err == nil && (!ok || id != k.ID) {
					err = fmt.Errorf("resolved to %q %v", id, ok)
				}
				errc <- err
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		if bs, _ := c.BindingsForShop(ctx, "shop", "", "", 0); len(bs) != 1 {
			t.Fatalf("bindings %+v", bs)
		}
		// A transaction that lost the race may retry and run the hook again,
		// but only committed hooks matter; at least one ran.
		if hooks.Load() < 1 {
			t.Fatal("OnBound never ran")
		}
	})
}

func TestAuditAndSearch(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	ctx := context.Background()
	c := catalog.New(db, catalog.Options{})
	k := mustSKU(t, c, catalog.SKUInput{Code: "Tee-01", Name: "Cotton Tee"})
	if _, err := c.UpdateSKU(ctx, k.ID, catalog.SKUInput{Code: "Tee-01", Name: "Cotton Tee v2"}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE resource = 'sku' AND resource_id = $1`, k.ID).Scan(&n); err != nil || n != 2 {
		t.Fatalf("audit rows %d %v", n, err)
	}
	for _, q := range []string{"tee-", "COTTON", "v2"} {
		if got, err := c.ListSKUs(ctx, catalog.SKUFilter{Query: q}); err != nil || len(got) != 1 {
			t.Errorf("search %q: %v %d", q, err, len(got))
		}
	}
	if got, _ := c.ListSKUs(ctx, catalog.SKUFilter{Query: "%"}); len(got) != 0 {
		t.Errorf("%% is not a wildcard: %d", len(got))
	}
}
