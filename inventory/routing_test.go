package inventory_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"omnihub/inventory"
	"omnihub/store"
	"omnihub/store/storetest"
)

// ActiveWarehousesTx gives routing the active warehouses by priority, then
// the oldest first, with their provinces; an inactive one is left out.
func TestActiveWarehousesTx(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		now := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
		svc := inventory.New(db, inventory.Options{Now: func() time.Time { now = now.Add(time.Second); return now }})
		mk := func(code string, priority int, provinces ...string) inventory.Warehouse {
			t.Helper()
			w, err := svc.CreateWarehouseFrom(ctx, inventory.WarehouseInput{Code: code, Priority: &priority, Provinces: provinces})
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		routes := func() []inventory.WarehouseRoute {
			t.Helper()
			var out []inventory.WarehouseRoute
			if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				out, err = svc.ActiveWarehousesTx(ctx, tx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		ids := func(rs []inventory.WarehouseRoute) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		// Created oldest first: OLD, EAST, MID, FIRST.
		old := mk("OLD", 100)
		east := mk("EAST", 10, "浙江", "上海")
		mid := mk("MID", 10)
		first := mk("FIRST", 0, "65")

		rs := routes()
		if want := []string{first.ID, east.ID, mid.ID, old.ID}; !slices.Equal(ids(rs), want) {
			t.Fatalf("routing order %v, want FIRST EAST MID OLD %v", ids(rs), want)
		}
		if rs[1].Priority != 10 || !slices.Equal(rs[1].Provinces, []string{"31", "33"}) || rs[3].Priority != 100 || len(rs[3].Provinces) != 0 {
			t.Fatalf("routes carry priority and provinces: %+v", rs)
		}

		// A new priority moves OLD first; a deactivated warehouse is left out.
		if _, err := svc.UpdateWarehouse(ctx, "OLD", inventory.WarehousePatch{Priority: intp(0)}); err != nil {
			t.Fatal(err)
		}
		off := false
		if _, err := svc.UpdateWarehouse(ctx, "FIRST", inventory.WarehousePatch{Active: &off}); err != nil {
			t.Fatal(err)
		}
		if want := []string{old.ID, east.ID, mid.ID}; !slices.Equal(ids(routes()), want) {
			t.Fatalf("after changes %v, want OLD EAST MID %v", ids(routes()), want)
		}
	})
}
