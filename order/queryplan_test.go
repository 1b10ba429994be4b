package order

import (
	"strings"
	"testing"
	"time"

	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// TestIngestLookupsProbe checks SQLite's plans for the lookups every ingest
// batch makes: each must probe the index written for it. SQLite plans
// without statistics, and twice it picked a plan that read a whole shop's
// orders (ORDER BY id walked orders_shop) or every approved order (the
// status index) per batch, which made ingest slow down as orders piled up.
func TestIngestLookupsProbe(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	cases := []struct {
		name, sql string
		args      []any
		want      string // the index the plan must search
	}{
		{"stored orders", storedOrdersQuery(store.SQLite, 3), []any{"s", "a", "b", "c"}, "sqlite_autoindex_orders_2"},
		{"merge candidates", siblingsQuery(store.SQLite, 3), []any{"s", "a", "b", "c"}, "orders_merge"},
		{"phone counts", phoneCountsQuery(store.SQLite, 3), []any{time.Now(), "a", "b", "c"}, "orders_phone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all := storetest.QueryPlan(t, db, c.sql, c.args...)
			if !strings.Contains(all, "SEARCH orders USING") || !strings.Contains(all, c.want+" (") {
				t.Fatalf("plan does not search %s:\n%s", c.want, all)
			}
		})
	}
}

// TestListQueriesProbe checks SQLite's plans for the order lists people use
// most: the exception queue of a shop (held and excepted orders) must read
// the status index, not every order of the shop, and a search by platform
// order id or phone must probe, not read every order.
func TestListQueriesProbe(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	cases := []struct {
		name string
		q    Query
		want []string // indexes the plan must search
	}{
		{"exception queue of a shop", Query{ShopID: "s", Status: []Status{Held, Exception}}, []string{"orders_status"}},
		{"search", Query{Search: "T000000000042"}, []string{"orders_platform_order", "orders_phone"}},
		{"search in a shop", Query{ShopID: "s", Search: "13800000000"}, []string{"orders_phone"}},
		{"a shop, newest first", Query{ShopID: "s"}, []string{"orders_shop"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sql, args := listQuery(store.SQLite, c.q, 50)
			all := storetest.QueryPlan(t, db, sql, args...)
			if strings.Contains(all, "SCAN orders") {
				t.Fatalf("plan reads every order:\n%s", all)
			}
			for _, w := range c.want {
				if !strings.Contains(all, w+" (") {
					t.Fatalf("plan does not search %s:\n%s", w, all)
				}
			}
		})
	}
}
