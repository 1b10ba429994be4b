package catalog

import (
	"strings"
	"testing"

	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// TestBindingLookupsProbe checks SQLite's plans for the binding lookups of
// every ingest batch (ResolveManyTx) and every stock push (the bindings of
// the pushed SKUs): each must probe an index per listing or SKU. SQLite
// plans without statistics, and read every binding of the shop instead: by
// the primary key's shop prefix, to filter on the platform SKU, or to get
// the listing order for free.
func TestBindingLookupsProbe(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	cases := []struct {
		name, sql string
		args      []any
		want      string
	}{
		{"bound listings", boundListingsQuery(store.SQLite), []any{"s", `[["i1","a"],["i2",""]]`},
			"SEARCH catalog_bindings USING INDEX sqlite_autoindex_catalog_bindings_1 (shop_id=? AND platform_item_id=? AND platform_sku_id=?)"},
		{"bindings of a SKU", bindingsQuery(skuBindingsWhere(store.SQLite)), []any{"k", "s"},
			"SEARCH catalog_bindings USING INDEX catalog_bindings_sku (sku_id=? AND shop_id=?)"},
		{"bindings of SKUs", bindingsQuery(skusBindingsWhere(store.SQLite)), []any{"s", `["k1","k2"]`},
			"SEARCH catalog_bindings USING INDEX catalog_bindings_sku (sku_id=? AND shop_id=?)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if all := storetest.QueryPlan(t, db, c.sql, c.args...); !strings.Contains(all, c.want) {
				t.Fatalf("plan does not search %q:\n%s", c.want, all)
			}
		})
	}
}
