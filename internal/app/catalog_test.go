package app

import (
	"context"
	"testing"

	"omnihub/catalog"
	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/store"
	"omnihub/store/storetest"
)

// The real catalog behind inventory: reserving a bundle reserves its
// components, a component short of stock makes the bundle short, and the
// ledger invariants hold.
func TestCatalogBundlesWithInventory(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		cat := catalog.New(db, catalog.Options{})
		inv := inventory.New(db, inventory.Options{Bundles: CatalogBundles(cat)})
		mk := func(in catalog.SKUInput) catalog.SKU {
			k, err := cat.CreateSKU(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		a := mk(catalog.SKUInput{Code: "A", Name: "shampoo"})
		b := mk(catalog.SKUInput{Code: "B", Name: "conditioner"})
		kit := mk(catalog.SKUInput{Code: "KIT", Name: "kit", Kind: catalog.Bundle,
			Components: []catalog.Component{{SKUID: a.ID, Qty: 2}, {SKUID: b.ID, Qty: 1}}})
		wh, err := inv.CreateWarehouse(ctx, "WH1", "main")
		if err != nil {
			t.Fatal(err)
		}
		for sku, qty := range map[string]int64{a.ID: 10, b.ID: 3} {
			if err := inv.Receive(ctx, inventory.DocRef{Type: "receipt", ID: "r1", Line: 1}, wh.ID, sku, qty); err != nil {
				t.Fatal(err)
			}
		}
		reserve := func(doc string, qty int64) error {
			return inv.Reserve(ctx, []inventory.ReserveLine{{Doc: inventory.DocRef{Type: "order", ID: doc, Line: 1}, WarehouseID: wh.ID, SKUID: kit.ID, Qty: qty}})
		}
		if err := reserve("o1", 2); err != nil {
			t.Fatal(err)
		}
		if got, _ := inv.Available(ctx, wh.ID, a.ID); got != 6 {
			t.Fatalf("A available %d, want 6", got)
		}
		if got, _ := inv.Available(ctx, wh.ID, b.ID); got != 1 {
			t.Fatalf("B available %d, want 1", got)
		}
		if err := reserve("o2", 2); !errs.Is(err, errs.Conflict) {
			t.Fatalf("bundle beyond B's stock: %v", err)
		}
		rep, err := inv.Check(ctx)
		if err != nil || len(rep.Violations) != 0 {
			t.Fatalf("check: %v %+v", err, rep)
		}
	})
}
