package catalog_test

import (
	"context"
	"testing"

	"omnihub/catalog"
	"omnihub/store"
	"omnihub/store/storetest"
)

// ResolveManyTx answers what ResolveTx would for each listing: bound
// listings by their binding (even when the outer code says otherwise),
// unbound ones by outer code (binding them, once), the rest not at all;
// another shop's bindings do not count.
func TestResolveManyMatchesResolve(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		var bound int
		c := catalog.New(db, catalog.Options{OnBound: func(context.Context, store.Tx, string, string, string) error {
			bound++
			return nil
		}})
		red := mustSKU(t, c, catalog.SKUInput{Code: "RED", Name: "red"})
		blue := mustSKU(t, c, catalog.SKUInput{Code: "BLUE", Name: "blue"})
		if _, _, err := c.Resolve(ctx, "shop1", "item1", "sku1", "RED"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Resolve(ctx, "shop2", "item2", "sku2", "RED"); err != nil {
			t.Fatal(err)
		}
		bound = 0
		refs := []catalog.ListingRef{
			{"item1", "sku1", "BLUE"}, // bound to RED: the binding wins
			{"item2", "sku2", "BLUE"}, // bound in shop2 only: by code here
			{"item3", "sku3", "NOPE"}, // unresolvable
			{"item4", "sku4", ""},     // no code, not bound
			{"item2", "sku2", "BLUE"}, // twice in one batch
			{"item9", "sku1", "BLUE"}, // same platform SKU id, other item: by code
		}
		var got map[catalog.ListingRef]string
		err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			var err error
			got, err = c.ResolveManyTx(ctx, tx, "shop1", refs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[catalog.ListingRef]string{
			{"item1", "sku1", "BLUE"}: red.ID,
			{"item2", "sku2", "BLUE"}: blue.ID,
			{"item9", "sku1", "BLUE"}: blue.ID,
		}
		if len(got) != len(want) {
			t.Fatalf("resolved %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%v → %q, want %q", k, got[k], v)
			}
		}
		if bound != 2 {
			t.Errorf("%d listings bound, want 2 (item2/sku2 and item9/sku1, once each)", bound)
		}
		// Now bound: the same answer from the bindings alone.
		id, ok, err := c.Resolve(ctx, "shop1", "item2", "sku2", "")
		if err != nil || !ok || id != blue.ID {
			t.Fatalf("binding made by ResolveManyTx: %q %v %v", id, ok, err)
		}
	})
}
