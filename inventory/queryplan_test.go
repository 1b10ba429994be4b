package inventory

import (
	"strings"
	"testing"

	"omnihub/jobs"
	"omnihub/store/storetest"
)

// TestAllocInputsProbe checks SQLite's plan for the read of every marking
// transaction (loadInputs): each per-SKU part must search its table by SKU.
// Overrides and push marks are keyed (shop, SKU), so a lookup by SKU alone
// scanned them whole, and the marks hold a row per shop and SKU.
func TestAllocInputsProbe(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	cases := []struct {
		name   string
		byShop bool
		marks  int
	}{
		{"every shop, with marks", false, 3},
		{"one shop, without marks", true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []any{"a", "b", "c"}
			if c.byShop {
				args = append(args, "s")
			}
			for i := 0; i < c.marks; i++ {
				args = append(args, "m")
			}
			plan := storetest.QueryPlan(t, db, inputsQuery(3, c.byShop, c.marks), args...)
			want := []string{
				"SEARCH inv_balances USING INDEX inv_balances_sku (sku_id=?)",
				"SEARCH inv_policy_overrides USING INDEX inv_policy_overrides_sku (sku_id=?)",
			}
			if c.byShop {
				want = append(want, "SEARCH inv_policies USING INDEX sqlite_autoindex_inv_policies_1 (shop_id=?)")
			}
			if c.marks > 0 {
				want = append(want, "SEARCH stock_push_marks USING INDEX stock_push_marks_sku (sku_id=?)")
			}
			for _, w := range want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan lacks %q:\n%s", w, plan)
				}
			}
		})
	}
}

// TestLedgerQueriesProbe checks SQLite's plans for a page of the stock
// ledger by SKU, by SKU and warehouse, and by document (an order's moves):
// each must search an index on its filter instead of reading or sorting
// the SKU's whole history or the whole ledger.
func TestLedgerQueriesProbe(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	cases := []struct {
		name string
		q    LedgerQuery
		want string
	}{
		{"a SKU", LedgerQuery{SKUID: "k", Limit: 100}, "SEARCH inv_ledger USING INDEX inv_ledger_sku (sku_id=?"},
		{"a SKU, next page", LedgerQuery{SKUID: "k", Cursor: "42", Limit: 100}, "SEARCH inv_ledger USING INDEX inv_ledger_sku (sku_id=? AND seq>?)"},
		{"a SKU in a warehouse", LedgerQuery{SKUID: "k", WarehouseID: "w", Limit: 100}, "SEARCH inv_ledger USING INDEX inv_ledger_sku (sku_id=?"},
		{"a document", LedgerQuery{DocType: "order", DocID: "o1", Limit: 100}, "SEARCH inv_ledger USING INDEX inv_ledger_doc (doc_id=? AND doc_type=?)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sql, args, err := ledgerQuery(c.q)
			if err != nil {
				t.Fatal(err)
			}
			plan := storetest.QueryPlan(t, db, sql, args...)
			if !strings.Contains(plan, c.want) {
				t.Fatalf("plan lacks %q:\n%s", c.want, plan)
			}
			if strings.Contains(plan, "TEMP B-TREE") {
				t.Fatalf("plan sorts the matching rows:\n%s", plan)
			}
		})
	}
}
